import * as assert from "assert";
import { GetObjectCommand, HeadObjectCommand, PutBucketLifecycleConfigurationCommand, CreateBucketCommand } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { createBackup } from "../../database/backup/create";
import { readLifecycleRules } from "../../database/backup/lifecycle";
import { s3SettingsFromEnv } from "../../database/backup/s3";
import { runBinary } from "../support/cliRun";
import { s3BackupFixture } from "../support/s3Backups";

function sha256(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
}

describe("backup upload to an S3-compatible store (SeaweedFS on loopback)", function () {
    this.timeout(240_000);
    const f = s3BackupFixture("upload");

    it("uploads the verified archive byte for byte under physioflow-backups/ and puts a 30-day expiry rule for that prefix on a new bucket", async () => {
        const bucket = f.newBucket();
        const backup = await createBackup({
            connection: f.db.connection,
            outDir: f.dir,
            environment: "staging",
            label: "pre-deploy-v2.0.0",
            upload: s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket }),
        });
        const key = `physioflow-backups/${path.basename(backup.archivePath)}`;
        assert.deepStrictEqual(backup.uploaded, { bucket, key, size: fs.statSync(backup.archivePath).size });

        const local = fs.readFileSync(backup.archivePath);
        const head = await f.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.strictEqual(head.ContentLength, local.length);
        assert.deepStrictEqual(head.Metadata, { "archive-sha256": sha256(local), "migration-version": "006", environment: "staging", "image-tags": "-" });
        const object = await f.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const remote = Buffer.from(await object.Body!.transformToByteArray());
        assert.strictEqual(sha256(remote), sha256(local));

        const rules = await readLifecycleRules(f.client, bucket);
        const expiry = rules.filter(r => r.Status === "Enabled" && r.Expiration?.Days === 30 && (r.Filter?.Prefix ?? r.Prefix ?? "") === "physioflow-backups/");
        assert.strictEqual(expiry.length, 1, JSON.stringify(rules));
    });

    it("adds the expiry rule to an existing bucket without dropping its other rules, and does not duplicate it", async () => {
        const bucket = f.newBucket();
        await f.client.send(new CreateBucketCommand({ Bucket: bucket }));
        await f.client.send(
            new PutBucketLifecycleConfigurationCommand({
                Bucket: bucket,
                LifecycleConfiguration: { Rules: [{ ID: "tmp-7d", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 7 } }] },
            }),
        );
        const upload = s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket });
        await createBackup({ connection: f.db.connection, outDir: f.dir, environment: "dev", label: "first", upload });
        await createBackup({ connection: f.db.connection, outDir: f.dir, environment: "dev", label: "second", upload });
        const rules = await readLifecycleRules(f.client, bucket);
        const summary = rules.map(r => [r.Filter?.Prefix ?? r.Prefix ?? "", r.Expiration?.Days]).sort();
        assert.deepStrictEqual(summary, [
            ["physioflow-backups/", 30],
            ["tmp/", 7],
        ]);
    });

    it("uploads from the CLI with --upload and the S3_* environment", async () => {
        const bucket = f.newBucket();
        const run = await runBinary(["backup", "create", "--out", f.dir, "--env", "dev", "--label", "cli-upload", "--upload"], {
            ...f.db.env,
            ...f.s3.env,
            S3_BUCKET: bucket,
        });
        assert.strictEqual(run.code, 0, run.stderr);
        const lines = run.stdout.trim().split("\n");
        const archive = lines[lines.length - 1];
        assert.match(path.basename(archive), /^dev_cli-upload_\d{8}_\d{6}\.tar\.gz$/);
        assert.strictEqual(lines[lines.length - 2], `uploaded s3://${bucket}/physioflow-backups/${path.basename(archive)}`);
        assert.match(run.stderr, /^backup: uploaded s3:\/\/.* at http:\/\/127\.0\.0\.1:\d+ \(/m);
        assert.ok(!run.stderr.includes(f.s3.secretAccessKey) && !run.stdout.includes(f.s3.secretAccessKey));
        const head = await f.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `physioflow-backups/${path.basename(archive)}` }));
        assert.strictEqual(head.ContentLength, fs.statSync(archive).size);
    });

    it("fails the backup command when the store refuses the upload, keeping the local archive", async () => {
        const upload = { ...s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: f.newBucket() }), secretAccessKey: "wrong-secret" };
        await assert.rejects(
            createBackup({ connection: f.db.connection, outDir: f.dir, environment: "dev", upload }),
            /upload to s3:\/\/.* failed: .*; the local archive .* is kept/,
        );
        assert.strictEqual(fs.readdirSync(f.dir).filter(name => name.endsWith(".tar.gz")).length, 1);
    });
});
