import * as assert from "assert";
import {
    CreateBucketCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    PutBucketLifecycleConfigurationCommand,
    PutObjectCommand,
} from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as path from "path";
import { createBackup } from "../../database/backup/create";
import { BACKUP_LIFECYCLE_RULE_ID, readLifecycleRules } from "../../database/backup/lifecycle";
import { s3SettingsFromEnv } from "../../database/backup/s3";
import { TestS3Server } from "../support/s3";
import { s3BackupFixture } from "../support/s3Backups";

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** An unsigned GET, as anyone on the network would send it. */
async function anonymousGet(s3: TestS3Server, bucket: string, key: string): Promise<number> {
    const response = await fetch(`${s3.endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
    await response.arrayBuffer();
    return response.status;
}

describe("backups of patient data stay private, and retention removes only what is safely stored", function () {
    this.timeout(240_000);
    const f = s3BackupFixture("privacy");

    it("writes the archive 0600 in a 0700 folder even under umask 000", async () => {
        const outDir = path.join(f.dir, "backups", "dev");
        const previous = process.umask(0o000);
        let archivePath: string;
        try {
            archivePath = (await createBackup({ connection: f.db.connection, outDir, environment: "dev" })).archivePath;
        } finally {
            process.umask(previous);
        }
        assert.strictEqual(mode(archivePath).toString(8), "600");
        assert.strictEqual(mode(outDir).toString(8), "700");
        // Nothing else was left behind (no work folder, no partial file) in the folder.
        assert.deepStrictEqual(fs.readdirSync(outDir), [path.basename(archivePath)]);
    });

    it("makes an existing group- or world-readable folder private, as the runbook's ~/physioflow-backups/<env> may be", async () => {
        const outDir = path.join(f.dir, "existing");
        fs.mkdirSync(outDir);
        fs.chmodSync(outDir, 0o755);
        fs.writeFileSync(path.join(outDir, "dev_older_20260101_000000.tar.gz"), "older archive");
        fs.chmodSync(path.join(outDir, "dev_older_20260101_000000.tar.gz"), 0o644);
        const lines: string[] = [];
        const backup = await createBackup({ connection: f.db.connection, outDir, environment: "dev", progress: { line: l => lines.push(l) } });
        assert.strictEqual(mode(outDir).toString(8), "700");
        assert.strictEqual(mode(backup.archivePath).toString(8), "600");
        assert.ok(
            lines.some(l => /made .* private \(was 755, now 700\)/.test(l)),
            lines.join("\n"),
        );
    });

    it("uploads without a public ACL: an unsigned GET of the archive is refused", async () => {
        const bucket = f.newBucket();
        const backup = await createBackup({
            connection: f.db.connection,
            outDir: path.join(f.dir, "up"),
            environment: "dev",
            upload: s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket }),
        });
        const key = backup.uploaded!.key;
        await f.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.strictEqual(await anonymousGet(f.s3, bucket, key), 403);
        // The check can fail: an object stored with a public-read ACL in the same bucket is served to anyone.
        await f.client.send(new PutObjectCommand({ Bucket: bucket, Key: "public/probe.txt", Body: "public", ACL: "public-read" }));
        const probe = await anonymousGet(f.s3, bucket, "public/probe.txt");
        if (probe !== 200) {
            // This server does not serve public-read objects at all; the 403 above still proves the archive is not readable anonymously.
            assert.strictEqual(probe, 403);
        }
    });

    it("scopes the 30-day expiry rule to the backups' prefix, leaving the team's other objects alone", async () => {
        const bucket = f.newBucket();
        await f.client.send(new CreateBucketCommand({ Bucket: bucket }));
        // An older version of this tool put a whole-bucket rule under the same ID: it must be replaced.
        await f.client.send(
            new PutBucketLifecycleConfigurationCommand({
                Bucket: bucket,
                LifecycleConfiguration: {
                    Rules: [
                        { ID: BACKUP_LIFECYCLE_RULE_ID, Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 30 } },
                        { ID: "tmp-7d", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 7 } },
                    ],
                },
            }),
        );
        await f.client.send(new PutObjectCommand({ Bucket: bucket, Key: "reports/2026-01.pdf", Body: "the team's report" }));
        const backup = await createBackup({
            connection: f.db.connection,
            outDir: path.join(f.dir, "up"),
            environment: "dev",
            upload: s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket }),
        });

        assert.strictEqual(backup.uploaded!.key, `physioflow-backups/${path.basename(backup.archivePath)}`);
        const rules = await readLifecycleRules(f.client, bucket);
        const summary = rules.map(r => [r.ID, r.Filter?.Prefix ?? r.Prefix ?? "", r.Expiration?.Days]).sort();
        assert.deepStrictEqual(summary, [
            [BACKUP_LIFECYCLE_RULE_ID, "physioflow-backups/", 30],
            ["tmp-7d", "tmp/", 7],
        ]);
        assert.ok(
            rules.every(r => (r.Filter?.Prefix ?? r.Prefix ?? "") !== ""),
            "no rule may cover the whole bucket",
        );
        const listed = await f.client.send(new ListObjectsV2Command({ Bucket: bucket }));
        assert.deepStrictEqual(listed.Contents?.map(o => o.Key).sort(), [backup.uploaded!.key, "reports/2026-01.pdf"].sort());
        await f.client.send(new GetObjectCommand({ Bucket: bucket, Key: "reports/2026-01.pdf" }));
    });

    it("prunes old archives only after the upload succeeded: a refused upload prunes nothing", async () => {
        const outDir = path.join(f.dir, "keep");
        fs.mkdirSync(outDir);
        const older = ["dev_a_20260101_000000.tar.gz", "dev_b_20260102_000000.tar.gz"];
        for (const name of older) fs.writeFileSync(path.join(outDir, name), "older archive");
        const upload = { ...s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: f.newBucket() }), secretAccessKey: "wrong-secret" };
        await assert.rejects(
            createBackup({ connection: f.db.connection, outDir, environment: "dev", label: "refused", keep: 1, upload }),
            /upload to s3:\/\/.* failed: .*; nothing was pruned/,
        );
        const left = fs.readdirSync(outDir).sort();
        assert.strictEqual(left.length, 3, left.join(", "));
        assert.ok(
            older.every(name => left.includes(name)),
            left.join(", "),
        );

        const bucket = f.newBucket();
        const backup = await createBackup({
            connection: f.db.connection,
            outDir,
            environment: "dev",
            label: "stored",
            keep: 1,
            upload: s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket }),
        });
        assert.strictEqual(backup.pruned.length, 3);
        assert.deepStrictEqual(fs.readdirSync(outDir), [path.basename(backup.archivePath)]);
    });
});
