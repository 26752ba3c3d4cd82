/**
 * components/backupStore.ts: where a stack's backups go, as the program's preview warning and
 * `physioflow status` say it (its lines in status are checked in tests/release/status.test.ts).
 */
import * as assert from "assert";
import { describeBackupStore } from "../../components/backupStore";

describe("where a stack's backups go (describeBackupStore)", () => {
    const upload = { endpoint: "http://127.0.0.1:9", bucket: "physioflow-backups-prod", region: "us-east-1", monthlyKeepMonths: 12 };

    it("a store: stored, with its bucket, prefix, endpoint, expiry and the local folder", () => {
        assert.deepStrictEqual(describeBackupStore({ environment: "prod", backupDir: "/b/prod", backupUpload: upload, backupLocalOnly: false }), {
            stored: true,
            localOnly: false,
            text: "s3://physioflow-backups-prod/physioflow-backups/ at http://127.0.0.1:9 (30 days), and /b/prod on the machine running pulumi up",
        });
    });

    it("no store: local only, on purpose with backupLocalOnly and by nature on the local stack; otherwise what to set", () => {
        const where = (env: string) => `backups of ${env} stay in /b on the machine running pulumi up, and nowhere else`;
        assert.deepStrictEqual(describeBackupStore({ environment: "local", backupDir: "/b", backupUpload: undefined, backupLocalOnly: false }), {
            stored: false,
            localOnly: true,
            text: `${where("local")} (the local stack)`,
        });
        assert.deepStrictEqual(describeBackupStore({ environment: "prod", backupDir: "/b", backupUpload: undefined, backupLocalOnly: true }), {
            stored: false,
            localOnly: true,
            text: `${where("prod")}, on purpose (backupLocalOnly)`,
        });
        assert.deepStrictEqual(describeBackupStore({ environment: "dev", backupDir: "/b", backupUpload: undefined, backupLocalOnly: false }), {
            stored: false,
            localOnly: false,
            text: `${where("dev")}: no backupS3Endpoint is set (runbook appendix C: 30 days in the team's MinIO; set backupS3Endpoint and backupS3Bucket, or backupLocalOnly true)`,
        });
    });
});
