import * as assert from "assert";
import { backupArchiveName, parseBackupArchiveName } from "../../database/backup/archiveName";
import { parseBackupMetadata, parseColorTags, parseImageTags } from "../../database/backup/metadata";
import { keptArchives, selectArchivesToPrune } from "../../database/backup/retention";
import { restoreHeaderSql, restoreTrailerSql, schemasInToc } from "../../database/backup/restore";
import { backupLifecycleRule, lifecycleExpiresAfter } from "../../database/backup/lifecycle";
import { s3SettingsFromEnv } from "../../database/backup/s3";
import { migrationVersionFromDumpSql } from "../../database/backup/verify";
import { UsageError } from "../../database/errors";

describe("backup archive names", () => {
    it("names archives like the runbook, in UTC, and parses them back", () => {
        const createdAt = new Date("2026-02-11T10:30:45.999Z");
        const name = backupArchiveName({ environment: "dev", label: "pre-deploy-v1.2.3", createdAt });
        assert.strictEqual(name, "dev_pre-deploy-v1.2.3_20260211_103045.tar.gz");
        assert.deepStrictEqual(parseBackupArchiveName(name), { environment: "dev", label: "pre-deploy-v1.2.3", createdAt: new Date("2026-02-11T10:30:45Z") });
    });

    it("does not parse other file names", () => {
        for (const other of [
            "notes.txt",
            "dev_x_2026021_103045.tar.gz",
            "dev_x_20260211_103045.tgz",
            "Dev_x_20260211_103045.tar.gz",
            "dev__20260211_103045.tar.gz",
        ]) {
            assert.strictEqual(parseBackupArchiveName(other), undefined, other);
        }
    });

    it("refuses environments and labels that would make an ambiguous name", () => {
        assert.throws(() => backupArchiveName({ environment: "my_env", label: "x", createdAt: new Date() }), UsageError);
        assert.throws(() => backupArchiveName({ environment: "dev", label: "pre_deploy", createdAt: new Date() }), UsageError);
    });
});

describe("backup retention", () => {
    it("keeps the newest N per environment and never selects other files", () => {
        const files = [
            "dev_a_20260101_000000.tar.gz",
            "dev_b_20260103_000000.tar.gz",
            "dev_c_20260102_000000.tar.gz",
            "dev_d_20260104_000000.tar.gz",
            "prod_a_20250101_000000.tar.gz",
            "prod_b_20250102_000000.tar.gz",
            "README.md",
            "dev_manual.tar.gz",
        ];
        assert.deepStrictEqual(selectArchivesToPrune(files, 2), ["dev_a_20260101_000000.tar.gz", "dev_c_20260102_000000.tar.gz"]);
        assert.deepStrictEqual(selectArchivesToPrune(files, 1), [
            "dev_a_20260101_000000.tar.gz",
            "dev_b_20260103_000000.tar.gz",
            "dev_c_20260102_000000.tar.gz",
            "prod_a_20250101_000000.tar.gz",
        ]);
        assert.deepStrictEqual(selectArchivesToPrune(files, 10), []);
        assert.throws(() => selectArchivesToPrune(files, 0), UsageError);
    });

    it("never selects an archive with a .keep mark, nor counts it toward the keep", () => {
        const files = [
            "dev_a_20260101_000000.tar.gz",
            "dev_a_20260101_000000.tar.gz.keep",
            "dev_b_20260102_000000.tar.gz",
            "dev_c_20260103_000000.tar.gz",
            "dev_d_20260104_000000.tar.gz",
            "dev_gone_20250101_000000.tar.gz.keep",
        ];
        assert.deepStrictEqual(selectArchivesToPrune(files, 2), ["dev_b_20260102_000000.tar.gz"]);
        assert.deepStrictEqual(selectArchivesToPrune(files, 1), ["dev_b_20260102_000000.tar.gz", "dev_c_20260103_000000.tar.gz"]);
        assert.deepStrictEqual(keptArchives(files), ["dev_a_20260101_000000.tar.gz"]);
    });
});

describe("backup metadata", () => {
    const valid = {
        format: "physioflow-backup/1",
        environment: "dev",
        database: "physioflow_dev",
        label: "pre-deploy-v1.2.3",
        created_at: "2026-02-11T10:30:45.000Z",
        migration_version: "015",
        image_tags: { api: "v1.2.3", web: "v1.2.3" },
        server_version: "16.4",
        pg_dump_version: "pg_dump (PostgreSQL) 16.4",
        dump_file: "database.dump",
        dump_size_bytes: 12345,
        dump_sha256: "a".repeat(64),
    };

    it("accepts well-formed metadata", () => {
        assert.deepStrictEqual(parseBackupMetadata(valid), valid);
    });

    it("reads both colors' tags and the live color, and archives from before them (no colors, no live)", () => {
        const withColors = { ...valid, colors: { blue: "v1.2.3", green: "v1.3.0" }, live: "blue" };
        assert.deepStrictEqual(parseBackupMetadata(withColors), withColors);
        assert.strictEqual("colors" in parseBackupMetadata(valid), false);
        assert.throws(() => parseBackupMetadata({ ...withColors, live: "red" }), /"live" must be "blue" or "green"/);
        assert.throws(() => parseBackupMetadata({ ...withColors, colors: { blue: "v1" } }), /"colors" must be an object \{ "blue": tag, "green": tag \}/);
        assert.throws(() => parseBackupMetadata({ ...withColors, colors: { blue: "v1", green: "" } }), /"colors" must be an object/);
        assert.throws(() => parseBackupMetadata({ ...valid, live: "blue" }), /"colors" must be present with the other/);
        assert.throws(() => parseBackupMetadata({ ...valid, colors: withColors.colors }), /"live" must be present with the other/);
    });

    it("names the first bad field", () => {
        assert.throws(() => parseBackupMetadata({ ...valid, migration_version: 15 }), /"migration_version" must be three digits such as "015"/);
        assert.throws(() => parseBackupMetadata({ ...valid, dump_sha256: "xyz" }), /"dump_sha256" must be 64 lower-case hex characters/);
        assert.throws(() => parseBackupMetadata({ ...valid, dump_file: "../../etc/passwd" }), /"dump_file" must be "database.dump"/);
        assert.throws(() => parseBackupMetadata({ ...valid, format: "other" }), /"format" must be "physioflow-backup\/1"/);
        assert.throws(() => parseBackupMetadata([]), /must hold a JSON object/);
    });

    it("parses --tags", () => {
        assert.deepStrictEqual(parseImageTags("api=v1.2.3,web=v1.2.3"), { api: "v1.2.3", web: "v1.2.3" });
        assert.deepStrictEqual(parseImageTags(""), {});
        assert.throws(() => parseImageTags("api=v1,api=v2"), /--tags names "api" twice/);
        assert.throws(() => parseImageTags("api v1"), /--tags must look like/);
    });

    it("parses --colors: blue and green, each once", () => {
        assert.deepStrictEqual(parseColorTags("green=v1.3.0,blue=v1.2.2"), { blue: "v1.2.2", green: "v1.3.0" });
        assert.throws(() => parseColorTags("blue=v1"), /^UsageError: --colors must name blue and green, e.g. blue=v1.2.2,green=v1.3.0, got "blue=v1"$/);
        assert.throws(() => parseColorTags("blue=v1,green=v2,red=v3"), /--colors must name blue and green/);
        assert.throws(() => parseColorTags("blue=v1,blue=v2"), /--colors names "blue" twice/);
        assert.throws(() => parseColorTags("blue v1"), /--colors must look like blue=v1.2.2,green=v1.3.0, got "blue v1"/);
    });

    it("finds the migration head in a pg_restore data script", () => {
        const script = [
            "SET statement_timeout = 0;",
            "COPY public.schema_migrations (version, name, checksum, applied_at, execution_ms, applied_by) FROM stdin;",
            "001\tinitial_schema\tabc\t2026-01-01 00:00:00+00\t12\temr",
            "003\tsoap_notes\tdef\t2026-01-02 00:00:00+00\t5\temr",
            "002\tvisit_checklists\tghi\t2026-01-01 00:00:01+00\t7\temr",
            "\\.",
            "",
        ].join("\n");
        assert.strictEqual(migrationVersionFromDumpSql(script), "003");
        assert.strictEqual(migrationVersionFromDumpSql('COPY public.schema_migrations (name, "version") FROM stdin;\nx\t011\n\\.\n'), "011");
        assert.strictEqual(migrationVersionFromDumpSql("SET statement_timeout = 0;\n"), "000");
    });
});

describe("restore SQL", () => {
    it("drops the dump's schemas and public, and recreates public with PostgreSQL's defaults", () => {
        assert.deepStrictEqual(schemasInToc("; comment\n5; 2615 16386 SCHEMA - audit emr\n210; 1259 16390 TABLE public patients emr\n"), ["audit"]);
        assert.strictEqual(
            restoreHeaderSql(["audit"], 30_000),
            [
                "SET lock_timeout = 30000;",
                'DROP SCHEMA IF EXISTS "audit" CASCADE;',
                'DROP SCHEMA IF EXISTS "public" CASCADE;',
                "CREATE SCHEMA public;",
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner') THEN ALTER SCHEMA public OWNER TO pg_database_owner; END IF; END $$;",
                "GRANT USAGE ON SCHEMA public TO PUBLIC;",
                "",
            ].join("\n"),
        );
        assert.ok(!restoreHeaderSql(["public"], 1000).includes("CREATE SCHEMA public"));
    });

    it("ends the restore transaction with a version check", () => {
        assert.match(restoreTrailerSql("006"), /IF restored IS DISTINCT FROM '006' THEN\n\s+RAISE EXCEPTION/);
    });
});

describe("S3 settings and lifecycle", () => {
    it("reads S3_* (or AWS_*) settings, defaulting the region", () => {
        assert.deepStrictEqual(
            s3SettingsFromEnv({ S3_ENDPOINT: "http://127.0.0.1:9000", S3_BUCKET: "b", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" }),
            { endpoint: "http://127.0.0.1:9000", bucket: "b", accessKeyId: "k", secretAccessKey: "s", region: "us-east-1", prefix: "physioflow-backups/" },
        );
        assert.strictEqual(
            s3SettingsFromEnv({ S3_BUCKET: "b", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", S3_PREFIX: "team/db-backups/" }).prefix,
            "team/db-backups/",
        );
        for (const prefix of ["/", "backups", "a//b/", "../x/"]) {
            assert.throws(
                () => s3SettingsFromEnv({ S3_BUCKET: "b", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", S3_PREFIX: prefix }),
                /S3_PREFIX must be a key prefix such as physioflow-backups\//,
            );
        }
        assert.throws(
            () => s3SettingsFromEnv({ S3_ENDPOINT: "http://127.0.0.1:9000" }),
            (e: Error) =>
                e instanceof UsageError &&
                e.message ===
                    "--upload needs S3_BUCKET, S3_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID), S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY) in the environment (and S3_ENDPOINT for MinIO)",
        );
    });

    it("recognizes its own enabled expiry rule of the right age, scoped to the backups' prefix only", () => {
        assert.deepStrictEqual(backupLifecycleRule(30), {
            ID: "physioflow-backups-expire",
            Status: "Enabled",
            Filter: { Prefix: "physioflow-backups/" },
            Expiration: { Days: 30 },
        });
        assert.throws(() => backupLifecycleRule(30, ""), /S3_PREFIX must be a key prefix/);
        assert.strictEqual(lifecycleExpiresAfter([backupLifecycleRule(30)], 30), true);
        assert.strictEqual(lifecycleExpiresAfter([backupLifecycleRule(30, "team/")], 30, "team/"), true);
        assert.strictEqual(lifecycleExpiresAfter([backupLifecycleRule(30)], 7), false);
        assert.strictEqual(lifecycleExpiresAfter([{ ...backupLifecycleRule(30), Status: "Disabled" }], 30), false);
        assert.strictEqual(lifecycleExpiresAfter([{ ...backupLifecycleRule(30), Filter: { Prefix: "dev/" } }], 30), false);
        // A whole-bucket rule (as earlier versions wrote) does not count: it would expire the team's other objects.
        assert.strictEqual(lifecycleExpiresAfter([{ ...backupLifecycleRule(30), Filter: { Prefix: "" } }], 30), false);
        assert.strictEqual(lifecycleExpiresAfter([{ Status: "Enabled", Prefix: "", Expiration: { Days: 30 } }], 30), false);
    });
});
