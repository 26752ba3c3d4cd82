import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { pgClientConfig } from "../../database/connection";
import { MIGRATION_LOCK } from "../../database/migrations/lock";
import {
    MigrationFailedError,
    MigrationValidationError,
    migrateDown,
    migrateUp,
    migrationStatus,
} from "../../database/migrations/runner";
import { TestDatabase, freshDatabase } from "../support/postgres";
import { threeMigrations, writeMigrationDir } from "./fixtures";

async function tables(client: Client): Promise<string[]> {
    const result = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    return result.rows.map((r) => r.tablename);
}

async function versions(client: Client): Promise<string[]> {
    const result = await client.query("SELECT version FROM schema_migrations ORDER BY version");
    return result.rows.map((r) => r.version);
}

describe("migration runner against PostgreSQL", function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let client: Client;

    beforeEach(async () => {
        db = await freshDatabase("migrate");
        client = await db.connect();
    });
    afterEach(async () => {
        await client.end();
    });

    it("applies pending migrations and records name, checksum, time in schema_migrations (runbook queries work)", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const result = await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual([result.from, result.to, result.steps.map((s) => s.version)], ["000", "003", ["001", "002", "003"]]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations", "therapists"]);

        const rows = (await client.query("SELECT * FROM schema_migrations ORDER BY version DESC")).rows;
        assert.deepStrictEqual(rows.map((r) => [r.version, r.name]), [["003", "patient_phone"], ["002", "therapists"], ["001", "patients"]]);
        for (const row of rows) {
            assert.match(row.checksum, /^[0-9a-f]{64}$/);
            assert.ok(row.applied_at instanceof Date);
            assert.ok(Number.isInteger(row.execution_ms) && row.execution_ms >= 0);
        }
        const again = await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(again.steps, []);
    });

    it("stops at --to and continues later", async () => {
        const dir = writeMigrationDir(threeMigrations());
        await migrateUp({ dir, connection: db.connection, to: "002" });
        assert.deepStrictEqual(await versions(client), ["001", "002"]);
        await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
    });

    it("leaves nothing of a migration that fails half-way: no table, no row, earlier ones kept", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_visits.sql": "CREATE TABLE visits (id int PRIMARY KEY);\nINSERT INTO visits VALUES (1);\nINSERT INTO visits VALUES ('not a number');\n",
            "rollback/004_down.sql": "DROP TABLE visits;",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.ok(error instanceof MigrationFailedError);
            assert.strictEqual(
                error.message,
                `${dir}/004_visits.sql:3: invalid input syntax for type integer: "not a number" [SQLSTATE 22P02]; rolled back, nothing from 004 was applied`,
            );
            return true;
        });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations", "therapists"]);
    });

    it("reports the line of the failing token inside a multi-line statement", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_view.sql": "-- a view over patients\nCREATE VIEW patient_names AS\n  SELECT id,\n         no_such_column\n    FROM patients;\n",
            "rollback/004_down.sql": "DROP VIEW patient_names;",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.ok(error instanceof MigrationFailedError);
            assert.strictEqual(error.line, 4);
            assert.ok(error.message.startsWith(`${dir}/004_view.sql:4: column "no_such_column" does not exist`), error.message);
            return true;
        });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
    });

    it("runs a no-transaction file outside a transaction (CREATE INDEX CONCURRENTLY) and records it", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_phone_index.sql": "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS patients_phone_idx ON patients (phone);\n",
            "rollback/004_down.sql": "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS patients_phone_idx;\n",
        });
        await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003", "004"]);
        const index = await client.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'patients_phone_idx'::regclass");
        assert.strictEqual(index.rows[0].indisvalid, true);
        await migrateDown({ dir, connection: db.connection, to: "003" });
        assert.strictEqual((await client.query("SELECT to_regclass('patients_phone_idx') AS idx")).rows[0].idx, null);
    });

    it("refuses CREATE INDEX CONCURRENTLY in a transactional file before anything runs", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_phone_index.sql": "CREATE INDEX CONCURRENTLY patients_phone_idx ON patients (phone);\n",
            "rollback/004_down.sql": "DROP INDEX patients_phone_idx;\n",
        });
        await assert.rejects(
            migrateUp({ dir, connection: db.connection, to: "003" }),
            /004_phone_index\.sql: line 1: this statement cannot run inside a transaction; put it alone in a file whose first line is "-- physioflow:no-transaction"/,
        );
        assert.deepStrictEqual(await tables(client), []);
    });

    it("does not record a no-transaction migration that fails", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_bad_index.sql": "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY bad_idx ON no_such_table (id);\n",
            "rollback/004_down.sql": "DROP INDEX IF EXISTS bad_idx;",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), /004_bad_index\.sql:2: relation "no_such_table" does not exist .*ran without a transaction/);
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
    });

    it("waits a bounded time for another runner's advisory lock, then fails naming the holder and changes nothing", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const holder = await db.connect();
        try {
            await holder.query("SELECT pg_advisory_lock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
            const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            const started = Date.now();
            await assert.rejects(
                migrateUp({ dir, connection: db.connection, runnerWaitMs: 700 }),
                new RegExp(`another migration runner holds the migration lock \\(pid ${holderPid}, .*gave up after .*; retry when it finishes or raise --runner-wait$`),
            );
            const waited = Date.now() - started;
            assert.ok(waited >= 650 && waited < 10_000, `waited ${waited} ms`);
            assert.strictEqual((await client.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t, null);
        } finally {
            await holder.end();
        }
        await migrateUp({ dir, connection: db.connection, runnerWaitMs: 700 });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
    });

    it("serializes two runners started at once: one applies, the other waits and finds nothing to do", async () => {
        const files = threeMigrations();
        files["002_therapists.sql"] = "SELECT pg_sleep(0.5);\n" + files["002_therapists.sql"];
        const dir = writeMigrationDir(files);
        const [a, b] = await Promise.all([
            migrateUp({ dir, connection: db.connection, runnerWaitMs: 30_000 }),
            migrateUp({ dir, connection: db.connection, runnerWaitMs: 30_000 }),
        ]);
        const applied = [a.steps.length, b.steps.length].sort();
        assert.deepStrictEqual(applied, [0, 3]);
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
    });

    it("goes down newest first with the down scripts, deleting their rows", async () => {
        const dir = writeMigrationDir(threeMigrations());
        await migrateUp({ dir, connection: db.connection });
        const result = await migrateDown({ dir, connection: db.connection, to: "001" });
        assert.deepStrictEqual(result.steps.map((s) => [s.direction, s.version]), [["down", "003"], ["down", "002"]]);
        assert.deepStrictEqual(await versions(client), ["001"]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations"]);
        const columns = await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'patients' ORDER BY 1");
        assert.deepStrictEqual(columns.rows.map((r) => r.column_name), ["full_name", "id"]);
        await migrateDown({ dir, connection: db.connection, to: "000" });
        assert.deepStrictEqual(await versions(client), []);
        assert.deepStrictEqual(await tables(client), ["schema_migrations"]);
    });

    it("a failing down script leaves its migration applied", async () => {
        const files = threeMigrations();
        files["rollback/003_down.sql"] = "ALTER TABLE patients DROP COLUMN phone;\nALTER TABLE patients DROP COLUMN no_such_column;\n";
        const dir = writeMigrationDir(files);
        await migrateUp({ dir, connection: db.connection });
        await assert.rejects(migrateDown({ dir, connection: db.connection, to: "002" }), /rollback\/003_down\.sql:2: column "no_such_column" of relation "patients" does not exist/);
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        const phone = await client.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'phone'");
        assert.strictEqual(phone.rowCount, 1);
    });

    it("--dry-run shows the plan and changes nothing, not even schema_migrations", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const plan = await migrateUp({ dir, connection: db.connection, dryRun: true });
        assert.strictEqual(plan.dryRun, true);
        assert.deepStrictEqual([plan.from, plan.to], ["000", "003"]);
        assert.deepStrictEqual(plan.steps.map((s) => s.description), [
            `apply ${dir}/001_patients.sql in a transaction`,
            `apply ${dir}/002_therapists.sql in a transaction`,
            `apply ${dir}/003_patient_phone.sql in a transaction`,
        ]);
        assert.deepStrictEqual(await tables(client), []);

        await migrateUp({ dir, connection: db.connection });
        const downPlan = await migrateDown({ dir, connection: db.connection, to: "000", dryRun: true });
        assert.deepStrictEqual(downPlan.steps.map((s) => s.version), ["003", "002", "001"]);
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations", "therapists"]);
    });

    it("refuses to run anything when an applied file was edited, even with other migrations pending", async () => {
        const files = threeMigrations();
        const dir = writeMigrationDir(files);
        await migrateUp({ dir, connection: db.connection, to: "002" });
        fs.writeFileSync(path.join(dir, "001_patients.sql"), "CREATE TABLE patients (id bigint PRIMARY KEY);\n");
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.ok(error instanceof MigrationValidationError);
            assert.match(error.message, new RegExp(`^refused to migrate: 1 problem: ${dir}/001_patients\\.sql: was edited after it was applied`));
            return true;
        });
        assert.deepStrictEqual(await versions(client), ["001", "002"]);
    });

    it("refuses when an applied migration's file is gone, or a pending file is older than the head", async () => {
        const files = threeMigrations();
        const dir = writeMigrationDir(files);
        await migrateUp({ dir, connection: db.connection });
        fs.renameSync(path.join(dir, "003_patient_phone.sql"), path.join(dir, "004_patient_phone.sql"));
        fs.renameSync(path.join(dir, "rollback/003_down.sql"), path.join(dir, "rollback/004_down.sql"));
        await assert.rejects(migrateUp({ dir, connection: db.connection }), /003_patient_phone\.sql: migration 003 is applied to the database but its file is gone/);

        await migrateDown({ dir: writeMigrationDir(files), connection: db.connection, to: "001" });
        const gap = writeMigrationDir(files);
        await migrateUp({ dir: gap, connection: db.connection, to: "001" });
        await client.query("INSERT INTO schema_migrations (version, name, checksum, execution_ms) SELECT '003', 'patient_phone', checksum, 1 FROM (SELECT $1::text AS checksum) c", [
            (await import("../../database/migrations/files")).migrationChecksum(files["003_patient_phone.sql"]),
        ]);
        await assert.rejects(migrateUp({ dir: gap, connection: db.connection }), /002_therapists\.sql: is pending but older than the applied head 003/);
    });

    it("refuses a pending migration that breaks the running color, and accepts it with allow-breaking", async () => {
        const files = {
            ...threeMigrations(),
            "004_drop_phone.sql": "ALTER TABLE patients DROP COLUMN phone;\n",
            "rollback/004_down.sql": "ALTER TABLE patients ADD COLUMN phone text;\n",
        };
        const dir = writeMigrationDir(files);
        await assert.rejects(
            migrateUp({ dir, connection: db.connection }),
            new RegExp(`refused to migrate: breaks the color still serving traffic: ${dir}/004_drop_phone\\.sql:1 \\[ban-drop-column\\]`),
        );
        assert.strictEqual((await client.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t, null);

        fs.writeFileSync(path.join(dir, "004_drop_phone.sql"), "-- physioflow:allow-breaking phone moved to contacts in v1.3, unused since\n" + files["004_drop_phone.sql"]);
        await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003", "004"]);
    });

    it("reports status: applied, pending, edited", async () => {
        const dir = writeMigrationDir(threeMigrations());
        await migrateUp({ dir, connection: db.connection, to: "002" });
        fs.appendFileSync(path.join(dir, "002_therapists.sql"), "-- edited\n");
        const status = await migrationStatus({ dir, connection: db.connection });
        assert.deepStrictEqual([status.current, status.newest], ["002", "003"]);
        assert.deepStrictEqual(status.rows.map((r) => [r.version, r.state]), [["001", "applied"], ["002", "edited"], ["003", "pending"]]);
        assert.strictEqual(status.problems.length, 1);
    });

    it("adopts a schema_migrations table left by the old shell scripts (version column only)", async () => {
        await client.query("CREATE TABLE schema_migrations (version text PRIMARY KEY)");
        await client.query("CREATE TABLE patients (id bigint PRIMARY KEY, full_name text NOT NULL)");
        await client.query("INSERT INTO schema_migrations VALUES ('001')");
        const dir = writeMigrationDir(threeMigrations());
        const result = await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(result.steps.map((s) => s.version), ["002", "003"]);
        const rows = (await client.query("SELECT version, checksum IS NOT NULL AS has_checksum FROM schema_migrations ORDER BY version")).rows;
        assert.deepStrictEqual(rows.map((r) => [r.version, r.has_checksum]), [["001", false], ["002", true], ["003", true]]);
    });

    describe("lock_timeout: a migration never queues traffic behind a long transaction", () => {
        const notesColumn = async () =>
            (await client.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'notes'")).rowCount;

        /** A session like the API's: an open transaction that read patients (ACCESS SHARE held until it ends). */
        async function openReadingTransaction(): Promise<{ api: Client; pid: number }> {
            const api = new Client(pgClientConfig(db.connection, "physioflow-api"));
            await api.connect();
            const pid = (await api.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await api.query("BEGIN");
            await api.query("SELECT count(*) FROM patients");
            return { api, pid };
        }

        it("fails the file after lock_timeout with nothing applied, naming the blocking session; the header gives a file more time", async () => {
            const files = {
                ...threeMigrations(),
                "004_patient_notes.sql": "-- notes for the front desk\nALTER TABLE patients ADD COLUMN notes text;\n",
                "rollback/004_down.sql": "ALTER TABLE patients DROP COLUMN notes;\n",
            };
            const dir = writeMigrationDir(files);
            await migrateUp({ dir, connection: db.connection, to: "003" });

            const { api, pid } = await openReadingTransaction();
            try {
                const started = Date.now();
                await assert.rejects(migrateUp({ dir, connection: db.connection, lockTimeoutMs: 1000 }), (error: Error) => {
                    assert.ok(error instanceof MigrationFailedError, String(error));
                    assert.strictEqual(error.sqlState, "55P03");
                    assert.match(
                        error.message,
                        new RegExp(
                            `^${dir}/004_patient_notes\\.sql:2: gave up after lock_timeout 1\\.0 s waiting for AccessExclusiveLock on patients, ` +
                                `held by pid ${pid} "physioflow-api" \\(holds AccessShareLock; idle in transaction, transaction open [0-9.]+ m?s; ` +
                                `last query started \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z: SELECT count\\(\\*\\) FROM patients\\); ` +
                                `rolled back, nothing from 004 was applied; retry once that session is done \\(or end it\\), ` +
                                `or give the file more time with "-- physioflow:lock-timeout 30s" \\(or --lock-timeout\\)$`,
                        ),
                    );
                    return true;
                });
                const waited = Date.now() - started;
                assert.ok(waited >= 950 && waited < 15_000, `waited ${waited} ms`);
                assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
                assert.strictEqual(await notesColumn(), 0);
                // Nothing queues behind a migration that gave up: writes to patients go through while the API's transaction is still open.
                await client.query("INSERT INTO patients (id, full_name) VALUES (1, 'Nguyễn An')");
            } finally {
                await api.query("ROLLBACK").catch(() => undefined);
                await api.end();
            }

            // The header raises this file's wait beyond the blocker's transaction; the run's default stays short.
            fs.writeFileSync(path.join(dir, "004_patient_notes.sql"), "-- physioflow:lock-timeout 20s\n" + files["004_patient_notes.sql"]);
            const blocker = await openReadingTransaction();
            try {
                const release = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => blocker.api.query("COMMIT"));
                const started = Date.now();
                const result = await migrateUp({ dir, connection: db.connection, lockTimeoutMs: 500 });
                await release;
                assert.ok(Date.now() - started >= 1400, "it waited for the reading transaction to end");
                assert.deepStrictEqual(result.steps.map((s) => s.version), ["004"]);
            } finally {
                await blocker.api.end();
            }
            assert.deepStrictEqual(await versions(client), ["001", "002", "003", "004"]);
            assert.strictEqual(await notesColumn(), 1);
        });

        it("applies the same limit to down scripts", async () => {
            const dir = writeMigrationDir(threeMigrations());
            await migrateUp({ dir, connection: db.connection });
            const { api, pid } = await openReadingTransaction();
            try {
                await assert.rejects(
                    migrateDown({ dir, connection: db.connection, to: "002", lockTimeoutMs: 300 }),
                    new RegExp(`rollback/003_down\\.sql:1: gave up after lock_timeout 300 ms waiting for AccessExclusiveLock on patients, held by pid ${pid} "physioflow-api"`),
                );
            } finally {
                await api.end();
            }
            assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        });
    });
});
