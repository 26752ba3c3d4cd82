import * as assert from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { DEFAULT_BACKUP_PREFIX } from "../../database/backup/storeLayout";

const repoRoot = path.resolve(__dirname, "..", "..");
const stackFiles = fs.readdirSync(repoRoot).filter(f => /^Pulumi\.[a-z0-9-]+\.yaml$/.test(f));

describe("stack files", () => {
    it("exist for the runbook's three environments", () => {
        for (const env of ["dev", "staging", "prod"]) assert.ok(stackFiles.includes(`Pulumi.${env}.yaml`), `Pulumi.${env}.yaml`);
    });

    for (const file of stackFiles) {
        it(`${file} holds no credential in plaintext`, () => {
            const doc = yaml.load(fs.readFileSync(path.join(repoRoot, file), "utf8")) as { config?: Record<string, unknown> };
            for (const [key, value] of Object.entries(doc.config ?? {})) {
                if (/password|secret|token|credential|accesskey/i.test(key)) {
                    assert.ok(
                        typeof value === "object" && value !== null && "secure" in value,
                        `${file}: ${key} is plaintext; set it with pulumi config set --secret`,
                    );
                }
            }
        });
    }

    for (const env of ["dev", "staging", "prod"]) {
        it(`Pulumi.${env}.yaml stores its backups off the machine: the team's MinIO, bucket physioflow-backups-${env}, its keys set as secrets`, () => {
            const text = fs.readFileSync(path.join(repoRoot, `Pulumi.${env}.yaml`), "utf8");
            const config = (yaml.load(text) as { config: Record<string, unknown> }).config;
            assert.deepStrictEqual(
                [config["physioflow:backupS3Endpoint"], config["physioflow:backupS3Bucket"], config["physioflow:backupS3Region"]],
                ["https://minio.trancloud.work", `physioflow-backups-${env}`, "us-east-1"],
            );
            assert.strictEqual(config["physioflow:backupLocalOnly"], undefined);
            // The header says where the archives go and how to set the keys, like the passwords' lines.
            const header = text.slice(0, text.indexOf("config:"));
            assert.ok(header.includes(`s3://physioflow-backups-${env}/${DEFAULT_BACKUP_PREFIX}<archive>`), header);
            for (const key of ["backupS3AccessKeyId", "backupS3SecretAccessKey"]) {
                assert.ok(header.includes(`#   pulumi config set --secret ${key} <`) && header.includes(`--stack ${env}\n`), `${key}: ${header}`);
            }
        });
    }

    it("docs/database.md names the same buckets and prefix as the stack files", () => {
        const doc = fs.readFileSync(path.join(repoRoot, "docs", "database.md"), "utf8");
        assert.ok(doc.includes("`physioflow-backups-<env>`"), "the bucket per environment");
        assert.ok(doc.includes(`s3://physioflow-backups-<env>/${DEFAULT_BACKUP_PREFIX}`), "the archives' prefix in it");
    });
});
