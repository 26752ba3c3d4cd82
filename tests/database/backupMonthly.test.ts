/**
 * Prod's monthly cold archive on the S3 server the tests run (SeaweedFS): the first backup of each
 * calendar month (UTC) is also kept under monthly/<YYYY-MM>/, and the bucket carries both rules, the
 * archives' 30-day expiry and the monthly copies' own. SeaweedFS stores expiry rules but answers a
 * rule with a transition NotImplemented: the upload then keeps the rules without it and says so
 * (docs/database.md, "Monthly copies").
 */
import * as assert from "assert";
import { HeadObjectCommand, ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, CreateBucketCommand, LifecycleRule } from "@aws-sdk/client-s3";
import * as fs from "fs";
import { createBackup } from "../../database/backup/create";
import { BACKUP_LIFECYCLE_RULE_ID, MONTHLY_LIFECYCLE_RULE_ID, monthlyLifecycleRule, readLifecycleRules, ruleInForce } from "../../database/backup/lifecycle";
import { s3SettingsFromEnv } from "../../database/backup/s3";
import { s3BackupFixture } from "../support/s3Backups";

/** Each rule as [ID, prefix, expiry days, transitions] in ID order. */
function summary(rules: LifecycleRule[]): unknown[] {
    return rules
        .map(r => [r.ID, r.Filter?.Prefix ?? r.Prefix ?? "", r.Expiration?.Days, (r.Transitions ?? []).map(t => `${t.Days}d:${t.StorageClass}`)])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

describe("monthly cold copies of prod's backups (SeaweedFS on loopback)", function () {
    this.timeout(240_000);
    const f = s3BackupFixture("monthly");

    const prodStore = (bucket: string, extra: Record<string, string> = {}) =>
        s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: bucket, S3_MONTHLY_MONTHS: "12", S3_COLD_STORAGE_CLASS: "GLACIER", ...extra });
    const backupAt = (iso: string, upload: ReturnType<typeof prodStore>, environment = "prod", lines?: string[]) =>
        createBackup({
            connection: f.db.connection,
            outDir: f.dir,
            environment,
            label: "pre-migrate-006",
            upload,
            now: () => new Date(iso),
            progress: { line: text => lines?.push(text) },
        });

    it("keeps the first backup of each calendar month (UTC) under monthly/<YYYY-MM>/, byte for byte, and no later one of the same month", async () => {
        const bucket = f.newBucket();
        const upload = prodStore(bucket);
        const first = await backupAt("2026-11-30T23:59:59Z", upload);
        const december = await backupAt("2026-12-01T00:00:00Z", upload);
        const lines: string[] = [];
        const later = await backupAt("2026-12-15T12:00:00Z", upload, "prod", lines);
        const january = await backupAt("2027-01-01T00:00:01Z", upload);
        // Another environment's backups in the same bucket have their own monthly copies.
        const dev = await backupAt("2026-12-20T08:00:00Z", upload, "dev");

        assert.strictEqual(first.uploaded!.monthlyKey, "monthly/2026-11/prod_pre-migrate-006_20261130_235959.tar.gz");
        assert.strictEqual(december.uploaded!.monthlyKey, "monthly/2026-12/prod_pre-migrate-006_20261201_000000.tar.gz");
        assert.strictEqual(later.uploaded!.monthlyKey, undefined);
        assert.ok(
            lines.includes(
                `backup: 2026-12 already has its monthly copy, s3://${bucket}/monthly/2026-12/prod_pre-migrate-006_20261201_000000.tar.gz at ${f.s3.endpoint}`,
            ),
            lines.join("\n"),
        );
        assert.strictEqual(january.uploaded!.monthlyKey, "monthly/2027-01/prod_pre-migrate-006_20270101_000001.tar.gz");
        assert.strictEqual(dev.uploaded!.monthlyKey, "monthly/2026-12/dev_pre-migrate-006_20261220_080000.tar.gz");

        const keys = async (prefix: string) =>
            ((await f.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(o => o.Key).sort();
        assert.deepStrictEqual(await keys("monthly/"), [
            "monthly/2026-11/prod_pre-migrate-006_20261130_235959.tar.gz",
            "monthly/2026-12/dev_pre-migrate-006_20261220_080000.tar.gz",
            "monthly/2026-12/prod_pre-migrate-006_20261201_000000.tar.gz",
            "monthly/2027-01/prod_pre-migrate-006_20270101_000001.tar.gz",
        ]);
        // Every archive is in the 30-day prefix too: the monthly copy is an extra copy, not a move.
        assert.strictEqual((await keys("physioflow-backups/")).length, 5);
        const head = (key: string) => f.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        const copy = await head(december.uploaded!.monthlyKey);
        const original = await head(december.uploaded!.key);
        assert.strictEqual(copy.ContentLength, fs.statSync(december.archivePath).size);
        assert.deepStrictEqual(copy.Metadata, original.Metadata);
        assert.strictEqual(copy.Metadata!["migration-version"], "006");
    });

    it("puts both rules on the bucket, each on its own prefix: the 30-day expiry never reaches monthly/; the store's refusal of the transition is said", async () => {
        const bucket = f.newBucket();
        await f.client.send(new CreateBucketCommand({ Bucket: bucket }));
        await f.client.send(
            new PutBucketLifecycleConfigurationCommand({
                Bucket: bucket,
                LifecycleConfiguration: { Rules: [{ ID: "tmp-7d", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 7 } }] },
            }),
        );
        const lines: string[] = [];
        await backupAt("2026-12-02T10:00:00Z", prodStore(bucket), "prod", lines);
        const rules = await readLifecycleRules(f.client, bucket);
        // As SeaweedFS reports them: both expiries, the team's rule kept, and no transition (it refuses one).
        assert.deepStrictEqual(summary(rules), [
            [BACKUP_LIFECYCLE_RULE_ID, "physioflow-backups/", 30, []],
            [MONTHLY_LIFECYCLE_RULE_ID, "monthly/", 372, []],
            ["tmp-7d", "tmp/", 7, []],
        ]);
        const warning = lines.find(line => line.startsWith("backup: warning: the store refused the monthly copies' transition to GLACIER ("));
        assert.ok(warning?.endsWith("); they stay in its standard class until they expire after 372 days"), lines.join("\n"));
        assert.match(warning!, /NotImplemented/);

        // A second backup finds the rules (without the transition the store refused) and keeps them as they are.
        await backupAt("2026-12-03T10:00:00Z", prodStore(bucket), "prod");
        assert.deepStrictEqual(summary(await readLifecycleRules(f.client, bucket)), summary(rules));
    });

    it("with no cold class (none), the monthly rule is expiry only and nothing is refused; a stack without monthly copies gets the 30-day rule alone", async () => {
        const bucket = f.newBucket();
        const lines: string[] = [];
        const backup = await backupAt("2026-12-02T10:00:00Z", prodStore(bucket, { S3_MONTHLY_MONTHS: "24", S3_COLD_STORAGE_CLASS: "none" }), "prod", lines);
        assert.deepStrictEqual(summary(await readLifecycleRules(f.client, bucket)), [
            [BACKUP_LIFECYCLE_RULE_ID, "physioflow-backups/", 30, []],
            [MONTHLY_LIFECYCLE_RULE_ID, "monthly/", 744, []],
        ]);
        assert.ok(!lines.some(line => line.includes("refused")), lines.join("\n"));
        assert.ok(lines.includes(`backup: kept s3://${bucket}/${backup.uploaded!.monthlyKey} at ${f.s3.endpoint} as 2026-12's monthly copy (24 months)`));

        const plain = f.newBucket();
        const dev = await backupAt("2026-12-02T10:00:00Z", s3SettingsFromEnv({ ...f.s3.env, S3_BUCKET: plain, S3_MONTHLY_MONTHS: "0" }), "dev");
        assert.strictEqual(dev.uploaded!.monthlyKey, undefined);
        assert.deepStrictEqual(summary(await readLifecycleRules(f.client, plain)), [[BACKUP_LIFECYCLE_RULE_ID, "physioflow-backups/", 30, []]]);
        assert.deepStrictEqual((await f.client.send(new ListObjectsV2Command({ Bucket: plain, Prefix: "monthly/" }))).Contents ?? [], []);
    });
});

describe("the monthly copies' rule and settings", () => {
    it("moves the copies to the cold class at once and expires them after 31 days a month; in force only exactly so", () => {
        const rule = monthlyLifecycleRule({ keepMonths: 12, storageClass: "GLACIER" });
        assert.deepStrictEqual(rule, {
            ID: "physioflow-backups-monthly",
            Status: "Enabled",
            Filter: { Prefix: "monthly/" },
            Transitions: [{ Days: 0, StorageClass: "GLACIER" }],
            Expiration: { Days: 372 },
        });
        assert.ok(!("Transitions" in monthlyLifecycleRule({ keepMonths: 12 })));
        assert.strictEqual(ruleInForce([rule], rule), true);
        assert.strictEqual(ruleInForce([monthlyLifecycleRule({ keepMonths: 12 })], rule), false, "a rule without the transition is not the one wanted");
        assert.strictEqual(ruleInForce([monthlyLifecycleRule({ keepMonths: 6, storageClass: "GLACIER" })], rule), false);
        assert.strictEqual(ruleInForce([{ ...rule, Filter: { Prefix: "monthly/2026-12/" } }], rule), false);
    });

    it("reads S3_MONTHLY_MONTHS and S3_COLD_STORAGE_CLASS, and keeps the archives' prefix out of monthly/", () => {
        const env = { S3_BUCKET: "b", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
        assert.strictEqual(s3SettingsFromEnv(env).monthly, undefined);
        assert.strictEqual(s3SettingsFromEnv({ ...env, S3_MONTHLY_MONTHS: "0" }).monthly, undefined);
        assert.deepStrictEqual(s3SettingsFromEnv({ ...env, S3_MONTHLY_MONTHS: "12" }).monthly, { keepMonths: 12, storageClass: "GLACIER" });
        assert.deepStrictEqual(s3SettingsFromEnv({ ...env, S3_MONTHLY_MONTHS: "3", S3_COLD_STORAGE_CLASS: "none" }).monthly, { keepMonths: 3 });
        assert.throws(
            () => s3SettingsFromEnv({ ...env, S3_MONTHLY_MONTHS: "121" }),
            /^UsageError: S3_MONTHLY_MONTHS must be the months a monthly copy is kept, 0 \(none\) to 120, got "121"$/,
        );
        assert.throws(
            () => s3SettingsFromEnv({ ...env, S3_MONTHLY_MONTHS: "1", S3_COLD_STORAGE_CLASS: "cold" }),
            /S3_COLD_STORAGE_CLASS must be a storage class/,
        );
        for (const prefix of ["monthly/", "monthly/x/"]) {
            assert.throws(() => s3SettingsFromEnv({ ...env, S3_PREFIX: prefix }), /S3_PREFIX must not be under monthly\//);
        }
    });
});
