import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { PassThrough } from "stream";
import * as tar from "tar";
import { fanOut } from "../../database/backup/archive";
import { createBackup } from "../../database/backup/create";
import { restoreBackup } from "../../database/backup/restore";
import { verifyBackup } from "../../database/backup/verify";
import { migrateUp } from "../../database/migrations/runner";
import { TestDatabase, freshDatabase, sharedPostgres } from "../support/postgres";
import { insertClinicData, snapshot } from "./seedData";

const SEEDED_MIGRATIONS = path.join(__dirname, "..", "..", "migrations");

/** Unpacks an archive, lets `change` edit the files, packs it again under `name`. */
async function repack(archivePath: string, name: string, change: (dir: string) => void): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-repack-"));
    await tar.extract({ file: archivePath, cwd: dir });
    change(dir);
    const out = path.join(path.dirname(archivePath), name);
    await tar.create({ gzip: true, file: out, cwd: dir, portable: true }, fs.readdirSync(dir));
    fs.rmSync(dir, { recursive: true, force: true });
    return out;
}

function editMetadata(dir: string, edit: (m: Record<string, unknown>) => void): void {
    const file = path.join(dir, "metadata.json");
    const metadata = JSON.parse(fs.readFileSync(file, "utf8"));
    edit(metadata);
    fs.writeFileSync(file, JSON.stringify(metadata));
}

describe("backup and restore against PostgreSQL", function () {
    this.timeout(180_000);
    let db: TestDatabase;
    let client: Client;
    let outDir: string;

    beforeEach(async () => {
        db = await freshDatabase("backup");
        client = await db.connect();
        await migrateUp({ dir: SEEDED_MIGRATIONS, connection: db.connection });
        await insertClinicData(client);
        outDir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-backups-"));
    });
    afterEach(async () => {
        await client.end();
        fs.rmSync(outDir, { recursive: true, force: true });
    });

    it("writes a verified archive with the runbook's name and complete metadata", async () => {
        const server = await sharedPostgres();
        const lines: string[] = [];
        const backup = await createBackup({
            connection: db.connection,
            outDir,
            environment: "dev",
            label: "pre-deploy-v1.2.3",
            imageTags: { api: "v1.2.3", web: "v1.2.3" },
            progress: { line: l => lines.push(l) },
            now: () => new Date("2026-02-11T10:30:45.678Z"),
        });
        assert.strictEqual(backup.archivePath, path.join(outDir, "dev_pre-deploy-v1.2.3_20260211_103045.tar.gz"));
        const m = backup.metadata;
        assert.deepStrictEqual(
            { ...m, server_version: undefined, pg_dump_version: undefined, dump_size_bytes: undefined, dump_sha256: undefined },
            {
                format: "physioflow-backup/1",
                environment: "dev",
                database: db.name,
                label: "pre-deploy-v1.2.3",
                created_at: "2026-02-11T10:30:45.000Z",
                migration_version: "006",
                image_tags: { api: "v1.2.3", web: "v1.2.3" },
                server_version: undefined,
                pg_dump_version: undefined,
                dump_file: "database.dump",
                dump_size_bytes: undefined,
                dump_sha256: undefined,
            },
        );
        assert.match(m.server_version, new RegExp(`^${server.major}\\.`));
        assert.match(m.pg_dump_version, new RegExp(`^pg_dump \\(PostgreSQL\\) ${server.major}\\.`));
        assert.ok(m.dump_size_bytes > 1000);
        assert.match(m.dump_sha256, /^[0-9a-f]{64}$/);
        assert.ok(
            lines.some(l => new RegExp(`^backup: pg_dump ${db.name} \\.\\.\\. [0-9.]+ (kB|MB) in [0-9.]+ (ms|s)$`).test(l)),
            lines.join("\n"),
        );

        const entries: string[] = [];
        await tar.list({ file: backup.archivePath, onReadEntry: e => entries.push(e.path) });
        assert.deepStrictEqual(entries.sort(), ["database.dump", "metadata.json"]);
        const report = await verifyBackup(backup.archivePath);
        assert.strictEqual(report.dumpMigrationVersion, "006");
        assert.ok(report.tocEntries > 20);
    });

    it("round trip: backup, change data and schema, restore gives back exactly the backed-up data", async () => {
        const schemaAcl = "SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'";
        const aclBefore = (await client.query(schemaAcl)).rows;
        const before = await snapshot(client);
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "pre-deploy-v1.2.4" });

        await client.query("UPDATE patients SET full_name = 'overwritten' WHERE patient_code = 'BN-0001'");
        await client.query("DELETE FROM audit_logs");
        await client.query("INSERT INTO therapists (keycloak_user_id, full_name, email) VALUES ('kc-2', 'Phạm Minh', 'minh@physioflow.local')");
        await client.query("CREATE TABLE telehealth_sessions (id bigint PRIMARY KEY)");
        await client.query("INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES ('007', 'telehealth_sessions', 'x', 1)");
        assert.notDeepStrictEqual(await snapshot(client), before);

        let asked = 0;
        const report = await restoreBackup({
            archivePath,
            connection: db.connection,
            confirm: async summary => {
                asked++;
                assert.deepStrictEqual([summary.database, summary.currentVersion, summary.metadata.migration_version], [db.name, "007", "006"]);
                return true;
            },
        });
        assert.strictEqual(asked, 1);
        assert.deepStrictEqual([report.previousVersion, report.migrationVersion], ["007", "006"]);
        assert.deepStrictEqual(await snapshot(client), before);
        assert.strictEqual((await client.query("SELECT to_regclass('telehealth_sessions') AS t")).rows[0].t, null);
        assert.deepStrictEqual((await client.query(schemaAcl)).rows, aclBefore);
        // The restored schema still works: triggers, defaults, identity columns.
        await client.query("INSERT INTO audit_logs (actor_id, action, entity_type) VALUES ('kc-1', 'login', 'session')");
        await client.query("UPDATE patients SET phone = '0900000000' WHERE patient_code = 'BN-0002'");
        const updated = await client.query("SELECT updated_at > created_at AS touched FROM patients WHERE patient_code = 'BN-0002'");
        assert.strictEqual(updated.rows[0].touched, true);
    });

    it("refuses a damaged archive (sha256 mismatch): never committed, the database as it was", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const damaged = await repack(archivePath, "dev_damaged_20260211_000000.tar.gz", dir => {
            const dump = path.join(dir, "database.dump");
            const bytes = fs.readFileSync(dump);
            bytes[Math.floor(bytes.length / 2)] ^= 0xff;
            fs.writeFileSync(dump, bytes);
        });
        await client.query("UPDATE patients SET full_name = 'changed after backup'");
        const before = await snapshot(client);
        // The dump is hashed as it streams into the restore's transaction: the mismatch is found at its end, before any COMMIT.
        await assert.rejects(
            restoreBackup({ archivePath: damaged, connection: db.connection, confirm: async () => true }),
            new RegExp(
                `^OperationError: restore failed and was rolled back, ${db.name} is unchanged: ${damaged.replace(/\./g, "\\.")} is damaged: sha256 of database.dump is [0-9a-f]{64} but metadata.json says [0-9a-f]{64}; refusing it$`,
            ),
        );
        assert.deepStrictEqual(await snapshot(client), before);
        await assert.rejects(verifyBackup(damaged), /is damaged: sha256/);
    });

    it("never commits a dump that pg_restore and psql replay without complaint but that does not match its sha256 (a byte of an owner name changed)", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const owner = Buffer.from(db.connection.user);
        const changed = await repack(archivePath, "dev_owner_20260211_000000.tar.gz", dir => {
            const dump = path.join(dir, "database.dump");
            const bytes = fs.readFileSync(dump);
            const at = bytes.indexOf(owner);
            assert.ok(at > 0, "the dump's table of contents names its owner");
            // --no-owner: the replayed SQL is the same, only the sha256 tells.
            bytes[at] = bytes[at] === 0x78 ? 0x79 : 0x78;
            fs.writeFileSync(dump, bytes);
        });
        await client.query("UPDATE patients SET full_name = 'changed after backup'");
        const before = await snapshot(client);
        await assert.rejects(
            restoreBackup({ archivePath: changed, connection: db.connection, confirm: async () => true }),
            /restore failed and was rolled back, .* is unchanged: .* is damaged: sha256 of database\.dump is [0-9a-f]{64} but metadata\.json says/,
        );
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("refuses an archive with one byte flipped where it was written (read from its stored blocks, not through gunzip): verify, and a restore never commits it", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const flipped = path.join(outDir, "dev_flipped_20260211_000000.tar.gz");
        const bytes = fs.readFileSync(archivePath);
        // Inside the dump's data, away from the 5-byte block headers (every 65 540 bytes from byte 10).
        const at = 10 + 65540 * Math.floor(bytes.length / 2 / 65540) + 1000;
        bytes[at] ^= 0xff;
        fs.writeFileSync(flipped, bytes);
        await assert.rejects(verifyBackup(flipped), /is damaged: its gzip CRC-32 or length does not match its contents$/);
        await client.query("UPDATE patients SET full_name = 'changed after backup'");
        const before = await snapshot(client);
        await assert.rejects(
            restoreBackup({ archivePath: flipped, connection: db.connection, confirm: async () => true }),
            /^OperationError: restore failed and was rolled back, .* is unchanged: .* is damaged: its gzip CRC-32/,
        );
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("an archive of many read spans (a 4 MB dump, read 1 MB at a time into reused memory): verified, restored byte for byte, and a byte flipped in its last span refused", async () => {
        // md5 text compresses to about half: ~8 MB of rows give a dump of ~4 MB, past several of the reader's spans.
        await client.query("CREATE TABLE bulk_notes (id int PRIMARY KEY, body text NOT NULL)");
        await client.query("INSERT INTO bulk_notes SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 80000) g");
        const digest = async () =>
            (
                await client.query<{ d: string; n: number }>(
                    "SELECT md5(string_agg(id || ':' || body, ',' ORDER BY id)) AS d, count(*)::int AS n FROM bulk_notes",
                )
            ).rows[0];
        const before = await digest();
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const report = await verifyBackup(archivePath);
        assert.ok(report.metadata.dump_size_bytes > 3 * 1024 * 1024, `the dump is ${report.metadata.dump_size_bytes} bytes: not several spans`);
        await client.query("UPDATE bulk_notes SET body = 'overwritten' WHERE id % 3 = 0");
        await restoreBackup({ archivePath, connection: db.connection, confirm: async () => true });
        assert.deepStrictEqual(await digest(), before);

        const flipped = path.join(outDir, "dev_flipped_20260212_000000.tar.gz");
        const bytes = fs.readFileSync(archivePath);
        const at = 10 + 65540 * (Math.floor(bytes.length / 65540) - 2) + 1000;
        bytes[at] ^= 0xff;
        fs.writeFileSync(flipped, bytes);
        await assert.rejects(verifyBackup(flipped), /is damaged: /);
        await client.query("UPDATE bulk_notes SET body = 'changed after backup' WHERE id = 1");
        const changed = await digest();
        await assert.rejects(
            restoreBackup({ archivePath: flipped, connection: db.connection, confirm: async () => true }),
            /restore failed and was rolled back/,
        );
        assert.deepStrictEqual(await digest(), changed);
    });

    it("the dump is fanned out only to child processes' stdin, which are done with a chunk when they call back (the reader reuses its memory)", () => {
        assert.throws(() => fanOut([new PassThrough()]), /^Error: fanOut: a sink is not a child process's stdin$/);
    });

    it("refuses a truncated archive and one with unexpected entries", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const truncated = path.join(outDir, "dev_truncated_20260211_000000.tar.gz");
        const bytes = fs.readFileSync(archivePath);
        fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
        await assert.rejects(verifyBackup(truncated), /is damaged: /);
        await assert.rejects(restoreBackup({ archivePath: truncated, connection: db.connection, confirm: async () => true }), /is damaged: /);

        const extra = await repack(archivePath, "dev_extra_20260211_000000.tar.gz", dir =>
            fs.writeFileSync(path.join(dir, "evil.sql"), "DROP TABLE patients;"),
        );
        await assert.rejects(verifyBackup(extra), /is not a PhysioFlow backup: unexpected entries evil\.sql/);
        assert.strictEqual((await client.query("SELECT count(*)::int AS n FROM patients")).rows[0].n, 2);
    });

    it("refuses an archive whose metadata version does not match the dump: never committed, the database as it was", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        const mismatching = await repack(archivePath, "dev_mismatch_20260211_000000.tar.gz", dir => editMetadata(dir, m => (m.migration_version = "003")));
        await client.query("DELETE FROM audit_logs");
        const before = await snapshot(client);
        await assert.rejects(
            restoreBackup({ archivePath: mismatching, connection: db.connection, confirm: async () => true }),
            /restore failed and was rolled back, .* is unchanged: .*metadata\.json says migration version 003 but the dump's schema_migrations is at 006; refusing a mismatching archive/,
        );
        await assert.rejects(verifyBackup(mismatching), /metadata\.json says migration version 003 but the dump's schema_migrations is at 006/);
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("refuses an archive of another environment when --env is given", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "prod" });
        await assert.rejects(
            restoreBackup({ archivePath, connection: db.connection, expectEnvironment: "dev", confirm: async () => true }),
            /is a backup of "prod", not "dev"; refusing to restore it/,
        );
    });

    it("changes nothing when the confirmation is declined", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        await client.query("DELETE FROM audit_logs");
        const before = await snapshot(client);
        await assert.rejects(restoreBackup({ archivePath, connection: db.connection, confirm: async () => false }), /restore cancelled; nothing was changed/);
        assert.ok(!fs.existsSync(`${archivePath}.keep`), "a cancelled restore marks nothing");
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("rolls the whole restore back when it cannot get its locks (API still connected)", async () => {
        const { archivePath } = await createBackup({ connection: db.connection, outDir, environment: "dev" });
        await client.query("UPDATE patients SET full_name = 'still serving'");
        const before = await snapshot(client);
        const api = await db.connect();
        try {
            await api.query("BEGIN");
            await api.query("SELECT count(*) FROM patients");
            await assert.rejects(
                restoreBackup({ archivePath, connection: db.connection, lockTimeoutMs: 500, confirm: async () => true }),
                /restore failed and was rolled back, .* is unchanged: .*lock timeout.*stop the API pods first/,
            );
            assert.ok(fs.existsSync(`${archivePath}.keep`), "the archive is marked kept before the restore runs");
            await api.query("ROLLBACK");
        } finally {
            await api.end();
        }
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("still verifies and restores an archive in the earlier layout (metadata.json first, deflated)", async () => {
        const backup = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "layout" });
        const before = await snapshot(client);
        // What createBackup wrote before the dump came first and gzip stopped recompressing it.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-oldlayout-"));
        await tar.extract({ file: backup.archivePath, cwd: dir });
        const old = path.join(outDir, "dev_earlier_20250101_000000.tar.gz");
        await tar.create({ gzip: true, file: old, cwd: dir, portable: true }, ["metadata.json", "database.dump"]);
        fs.rmSync(dir, { recursive: true, force: true });
        const listed: string[] = [];
        await tar.list({ file: old, onReadEntry: entry => listed.push(entry.path) });
        assert.deepStrictEqual(listed, ["metadata.json", "database.dump"]);

        assert.strictEqual((await verifyBackup(old)).metadata.dump_sha256, backup.metadata.dump_sha256);
        await client.query("DELETE FROM audit_logs");
        await restoreBackup({ archivePath: old, connection: db.connection, confirm: async () => true });
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("writes the dump first and does not deflate it again (pg_dump already compressed it); tar -xzf reads it", async () => {
        const backup = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "layout" });
        const listed: string[] = [];
        await tar.list({ file: backup.archivePath, onReadEntry: entry => listed.push(entry.path) });
        assert.deepStrictEqual(listed, ["database.dump", "metadata.json"]);
        const dumpSize = backup.metadata.dump_size_bytes;
        // Stored deflate blocks: the archive is the tar plus a few bytes per 64 kB.
        assert.ok(fs.statSync(backup.archivePath).size >= dumpSize, `${fs.statSync(backup.archivePath).size} < ${dumpSize}`);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-gnutar-"));
        const { execFileSync } = await import("child_process");
        execFileSync("tar", ["-xzf", backup.archivePath, "-C", dir]);
        assert.strictEqual(fs.statSync(path.join(dir, "database.dump")).size, dumpSize);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("never prunes an archive a restore restored: the oldest of ten survives the next backup with the default keep", async () => {
        // The restore's archive, the oldest of ten in the folder (its name may say another time than its metadata).
        const real = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "real" });
        const restored = path.join(outDir, "dev_pre-migrate-004_20250101_000000.tar.gz");
        fs.renameSync(real.archivePath, restored);
        const newer = (day: number) => `dev_pre-migrate-00${day}_202601${String(day).padStart(2, "0")}_120000.tar.gz`;
        for (let day = 1; day <= 9; day++) fs.writeFileSync(path.join(outDir, newer(day)), "placeholder");
        const before = await snapshot(client);
        await client.query("DELETE FROM audit_logs");

        // As rollback --restore and backup restore do: a safety backup into the same folder, then the restore.
        const report = await restoreBackup({
            archivePath: restored,
            connection: db.connection,
            confirm: async () => true,
            safetyBackup: { outDir, environment: "dev" },
            keptBy: "physioflow rollback dev --restore",
        });
        assert.deepStrictEqual(await snapshot(client), before);

        // The stack's own pre-migrate backup after the restore (the final update's migrationTarget), default keep 10.
        const after = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "pre-migrate-004" });
        assert.ok(fs.existsSync(restored), "the restored archive was pruned");
        const keep = `${restored}.keep`;
        assert.ok(fs.existsSync(keep), "it is marked kept");
        assert.strictEqual(fs.statSync(keep).mode & 0o777, 0o600);
        assert.match(fs.readFileSync(keep, "utf8"), /^restored \d{4}-\d\d-\d\dT[^ ]+Z by physioflow rollback dev --restore\n/);
        // The kept archive does not count toward the keep: the ten newest others stay, the oldest other goes.
        assert.deepStrictEqual(
            after.pruned.map(p => path.basename(p)),
            [newer(1)],
        );
        assert.deepStrictEqual(
            fs.readdirSync(outDir).sort(),
            [
                ...Array.from({ length: 8 }, (_, i) => newer(i + 2)),
                path.basename(report.safetyBackupPath!),
                path.basename(after.archivePath),
                path.basename(restored),
                path.basename(keep),
            ].sort(),
        );
        await verifyBackup(restored);

        // Deleting the mark releases it to retention.
        fs.unlinkSync(keep);
        const released = await createBackup({ connection: db.connection, outDir, environment: "dev", label: "released" });
        assert.deepStrictEqual(
            released.pruned.map(p => path.basename(p)),
            [newer(2), path.basename(restored)],
        );
    });

    it("keeps the newest N archives per environment, pruning only after the new one verified", async () => {
        const old = (day: number) => `dev_pre-deploy-v1.0.${day}_202601${String(day).padStart(2, "0")}_120000.tar.gz`;
        for (let day = 1; day <= 11; day++) {
            fs.writeFileSync(path.join(outDir, old(day)), "placeholder");
        }
        fs.writeFileSync(path.join(outDir, "prod_pre-deploy-v1.0.0_20250101_000000.tar.gz"), "placeholder");
        fs.writeFileSync(path.join(outDir, "notes.txt"), "not an archive");

        const failing = { ...db.connection, database: "no_such_database" };
        await assert.rejects(createBackup({ connection: failing, outDir, environment: "dev", keep: 10 }), /cannot connect/);
        assert.strictEqual(fs.readdirSync(outDir).length, 13);

        const backup = await createBackup({ connection: db.connection, outDir, environment: "dev", keep: 10 });
        assert.deepStrictEqual(
            backup.pruned.map(p => path.basename(p)),
            [old(1), old(2)],
        );
        const left = fs.readdirSync(outDir).sort();
        assert.deepStrictEqual(
            left,
            [
                ...Array.from({ length: 9 }, (_, i) => old(i + 3)),
                path.basename(backup.archivePath),
                "notes.txt",
                "prod_pre-deploy-v1.0.0_20250101_000000.tar.gz",
            ].sort(),
        );
    });
});
