import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client, ClientBase } from "pg";
import { describeConnection, pgClientConfig } from "../../database/connection";
import { readCurrentVersion } from "../../database/migrations/history";
import { MIGRATION_LOCK, acquireMigrationLock, releaseMigrationLock } from "../../database/migrations/lock";
import { PlanStep } from "../../database/migrations/plan";
import {
    MigrationFailedError,
    MigrationValidationError,
    checkMigrations,
    currentMigrationVersion,
    migrateDown,
    migrateUp,
    migrationStatus,
} from "../../database/migrations/runner";
import { Progress } from "../../database/progress";
import { TestDatabase, freshDatabase } from "../support/postgres";
import { threeMigrations, writeMigrationDir } from "./fixtures";

async function tables(client: Client): Promise<string[]> {
    const result = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    return result.rows.map(r => r.tablename);
}

async function versions(client: Client): Promise<string[]> {
    const result = await client.query("SELECT version FROM schema_migrations ORDER BY version");
    return result.rows.map(r => r.version);
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
        assert.deepStrictEqual([result.from, result.to, result.steps.map(s => s.version)], ["000", "003", ["001", "002", "003"]]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations", "therapists"]);

        const rows = (await client.query("SELECT * FROM schema_migrations ORDER BY version DESC")).rows;
        assert.deepStrictEqual(
            rows.map(r => [r.version, r.name]),
            [
                ["003", "patient_phone"],
                ["002", "therapists"],
                ["001", "patients"],
            ],
        );
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
        await assert.rejects(
            migrateUp({ dir, connection: db.connection }),
            /004_bad_index\.sql:2: relation "no_such_table" does not exist .*ran without a transaction/,
        );
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
                new RegExp(
                    `another migration runner holds the migration lock \\(pid ${holderPid}, .*gave up after .*; retry when it finishes or raise --runner-wait$`,
                ),
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
        assert.deepStrictEqual(
            result.steps.map(s => [s.direction, s.version]),
            [
                ["down", "003"],
                ["down", "002"],
            ],
        );
        assert.deepStrictEqual(await versions(client), ["001"]);
        assert.deepStrictEqual(await tables(client), ["patients", "schema_migrations"]);
        const columns = await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'patients' ORDER BY 1");
        assert.deepStrictEqual(
            columns.rows.map(r => r.column_name),
            ["full_name", "id"],
        );
        await migrateDown({ dir, connection: db.connection, to: "000" });
        assert.deepStrictEqual(await versions(client), []);
        assert.deepStrictEqual(await tables(client), ["schema_migrations"]);
    });

    it("a failing down script leaves its migration applied", async () => {
        const files = threeMigrations();
        files["rollback/003_down.sql"] = "ALTER TABLE patients DROP COLUMN phone;\nALTER TABLE patients DROP COLUMN no_such_column;\n";
        const dir = writeMigrationDir(files);
        await migrateUp({ dir, connection: db.connection });
        await assert.rejects(
            migrateDown({ dir, connection: db.connection, to: "002" }),
            /rollback\/003_down\.sql:2: column "no_such_column" of relation "patients" does not exist/,
        );
        assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        const phone = await client.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'phone'");
        assert.strictEqual(phone.rowCount, 1);
    });

    it("--dry-run shows the plan and changes nothing, not even schema_migrations", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const plan = await migrateUp({ dir, connection: db.connection, dryRun: true });
        assert.strictEqual(plan.dryRun, true);
        assert.deepStrictEqual([plan.from, plan.to], ["000", "003"]);
        assert.deepStrictEqual(
            plan.steps.map(s => s.description),
            [
                `apply ${dir}/001_patients.sql in a transaction`,
                `apply ${dir}/002_therapists.sql in a transaction`,
                `apply ${dir}/003_patient_phone.sql in a transaction`,
            ],
        );
        assert.deepStrictEqual(await tables(client), []);

        await migrateUp({ dir, connection: db.connection });
        const downPlan = await migrateDown({ dir, connection: db.connection, to: "000", dryRun: true });
        assert.deepStrictEqual(
            downPlan.steps.map(s => s.version),
            ["003", "002", "001"],
        );
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
        await assert.rejects(
            migrateUp({ dir, connection: db.connection }),
            /003_patient_phone\.sql: migration 003 is applied to the database but its file is gone/,
        );

        await migrateDown({ dir: writeMigrationDir(files), connection: db.connection, to: "001" });
        const gap = writeMigrationDir(files);
        await migrateUp({ dir: gap, connection: db.connection, to: "001" });
        await client.query(
            "INSERT INTO schema_migrations (version, name, checksum, execution_ms) SELECT '003', 'patient_phone', checksum, 1 FROM (SELECT $1::text AS checksum) c",
            [(await import("../../database/migrations/files")).migrationChecksum(files["003_patient_phone.sql"])],
        );
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

        fs.writeFileSync(
            path.join(dir, "004_drop_phone.sql"),
            "-- physioflow:allow-breaking phone moved to contacts in v1.3, unused since\n" + files["004_drop_phone.sql"],
        );
        await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(await versions(client), ["001", "002", "003", "004"]);
    });

    it("reports status: applied, pending, edited", async () => {
        const dir = writeMigrationDir(threeMigrations());
        await migrateUp({ dir, connection: db.connection, to: "002" });
        fs.appendFileSync(path.join(dir, "002_therapists.sql"), "-- edited\n");
        const status = await migrationStatus({ dir, connection: db.connection });
        assert.deepStrictEqual([status.current, status.newest], ["002", "003"]);
        assert.deepStrictEqual(
            status.rows.map(r => [r.version, r.state]),
            [
                ["001", "applied"],
                ["002", "edited"],
                ["003", "pending"],
            ],
        );
        assert.strictEqual(status.problems.length, 1);
    });

    it("adopts a schema_migrations table left by the old shell scripts (version column only)", async () => {
        await client.query("CREATE TABLE schema_migrations (version text PRIMARY KEY)");
        await client.query("CREATE TABLE patients (id bigint PRIMARY KEY, full_name text NOT NULL)");
        await client.query("INSERT INTO schema_migrations VALUES ('001')");
        const dir = writeMigrationDir(threeMigrations());
        const result = await migrateUp({ dir, connection: db.connection });
        assert.deepStrictEqual(
            result.steps.map(s => s.version),
            ["002", "003"],
        );
        const rows = (await client.query("SELECT version, checksum IS NOT NULL AS has_checksum FROM schema_migrations ORDER BY version")).rows;
        assert.deepStrictEqual(
            rows.map(r => [r.version, r.has_checksum]),
            [
                ["001", false],
                ["002", true],
                ["003", true],
            ],
        );
    });

    const collect = (): Progress & { lines: string[] } => {
        const lines: string[] = [];
        return { lines, line: text => lines.push(text) };
    };

    it("says where it starts and each file it applied or reverted, with the step count", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const progress = collect();
        const up = await migrateUp({ dir, connection: db.connection, progress, to: "002" });
        assert.strictEqual(up.dryRun, false);
        assert.ok(
            up.steps.every(s => Number.isInteger(s.executionMs) && s.executionMs! >= 0),
            JSON.stringify(up.steps),
        );
        const where = describeConnection(db.connection);
        assert.strictEqual(progress.lines.length, 3, progress.lines.join("\n"));
        assert.strictEqual(progress.lines[0], `migrate: ${where} at 000, 2 steps to 002`);
        assert.match(progress.lines[1], new RegExp(`^migrate: applied ${dir}/001_patients\\.sql in \\d+ ms$`));
        assert.match(progress.lines[2], new RegExp(`^migrate: applied ${dir}/002_therapists\\.sql in \\d+ ms$`));

        progress.lines.length = 0;
        await migrateDown({ dir, connection: db.connection, progress, to: "001" });
        assert.strictEqual(progress.lines[0], `migrate: ${where} at 002, 1 step to 001`);
        assert.match(progress.lines[1], new RegExp(`^migrate: reverted ${dir}/rollback/002_down\\.sql in \\d+ ms$`));
        assert.strictEqual(progress.lines.length, 2);
    });

    it("calls beforeChanges once with the plan before the first change, never for an empty plan or a dry run", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const calls: { from: string; to: string; versions: string[]; tables: string | null }[] = [];
        const beforeChanges = async (plan: { from: string; to: string; steps: PlanStep[] }) => {
            const table = (await client.query("SELECT to_regclass('schema_migrations')::text AS t")).rows[0].t;
            calls.push({ from: plan.from, to: plan.to, versions: plan.steps.map(s => s.version), tables: table });
        };
        await migrateUp({ dir, connection: db.connection, beforeChanges, dryRun: true });
        assert.deepStrictEqual(calls, []);
        await migrateUp({ dir, connection: db.connection, beforeChanges, to: "002" });
        assert.deepStrictEqual(calls, [{ from: "000", to: "002", versions: ["001", "002"], tables: null }]);
        await migrateUp({ dir, connection: db.connection, beforeChanges, to: "002" });
        assert.strictEqual(calls.length, 1);
        await migrateDown({ dir, connection: db.connection, beforeChanges, to: "000" });
        assert.deepStrictEqual(calls[1], { from: "002", to: "000", versions: ["002", "001"], tables: "schema_migrations" });
    });

    it("a failed statement names PostgreSQL's detail and SQLSTATE; a no-transaction file says it is not recorded", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_seed.sql": "INSERT INTO patients (id, full_name) VALUES (1, 'An');\nINSERT INTO patients (id, full_name) VALUES (1, 'Binh');\n",
            "rollback/004_down.sql": "DELETE FROM patients;\n",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.ok(error instanceof MigrationFailedError);
            assert.strictEqual(error.name, "MigrationFailedError");
            assert.deepStrictEqual([error.file, error.line, error.sqlState], [`${dir}/004_seed.sql`, 2, "23505"]);
            assert.strictEqual((error.cause as { code?: string }).code, "23505", "PostgreSQL's own error is kept as the cause");
            assert.strictEqual(
                error.message,
                `${dir}/004_seed.sql:2: duplicate key value violates unique constraint "patients_pkey" (Key (id)=(1) already exists.) [SQLSTATE 23505]; ` +
                    "rolled back, nothing from 004 was applied",
            );
            return true;
        });
        const noTx = writeMigrationDir({
            ...threeMigrations(),
            "004_index.sql": "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY patients_name_idx ON patients (no_such_column);\n",
            "rollback/004_down.sql": "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS patients_name_idx;\n",
        });
        await assert.rejects(migrateUp({ dir: noTx, connection: db.connection }), (error: Error) => {
            assert.strictEqual(
                error.message,
                `${noTx}/004_index.sql:2: column "no_such_column" does not exist [SQLSTATE 42703]; ran without a transaction: 004 is not recorded; ` +
                    "an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index to drop before retrying",
            );
            return true;
        });
    });

    it("a statement stopped by the file's statement_timeout says which header set it", async () => {
        const dir = writeMigrationDir({
            "001_slow.sql": "-- physioflow:statement-timeout 200ms\nSELECT pg_sleep(5);\n",
            "rollback/001_down.sql": "SELECT 1;\n",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.strictEqual(
                error.message,
                `${dir}/001_slow.sql:2: canceling statement due to statement timeout [SQLSTATE 57014]; rolled back, nothing from 001 was applied; ` +
                    `the file's statement_timeout is 200 ms ("-- physioflow:statement-timeout")`,
            );
            return true;
        });
        assert.strictEqual(await currentMigrationVersion(db.connection), "000");
    });

    it("a COMMIT that fails (a deferred constraint) rolls the file back and says so", async () => {
        const dir = writeMigrationDir({
            "001_codes.sql": "CREATE TABLE codes (code text UNIQUE DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO codes VALUES ('a'), ('a');\n",
            "rollback/001_down.sql": "DROP TABLE codes;\n",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.ok(error instanceof MigrationFailedError);
            assert.deepStrictEqual([error.file, error.line, error.sqlState], [`${dir}/001_codes.sql`, 0, "23505"]);
            assert.strictEqual(
                error.message,
                `${dir}/001_codes.sql: COMMIT failed: duplicate key value violates unique constraint "codes_code_key"; rolled back, nothing from 001 was applied`,
            );
            return true;
        });
        assert.strictEqual((await client.query("SELECT to_regclass('codes')::text AS t")).rows[0].t, null);
        assert.strictEqual(await currentMigrationVersion(db.connection), "000");
    });

    it("counts the problems it refuses for, in the singular and the plural", async () => {
        const files = threeMigrations();
        delete files["rollback/002_down.sql"];
        delete files["rollback/003_down.sql"];
        const dir = writeMigrationDir(files);
        await assert.rejects(migrateUp({ dir, connection: db.connection, dryRun: true }), (error: Error) => {
            assert.ok(error instanceof MigrationValidationError);
            assert.strictEqual(error.name, "MigrationValidationError");
            assert.strictEqual(error.problems.length, 2);
            assert.strictEqual(
                error.message,
                `refused to migrate: 2 problems: ${dir}/002_therapists.sql: has no down script; add ${dir}/rollback/002_down.sql; ` +
                    `${dir}/003_patient_phone.sql: has no down script; add ${dir}/rollback/003_down.sql`,
            );
            return true;
        });
    });

    it("checks files against the database without creating anything; reads the head without a lock", async () => {
        const files = threeMigrations();
        const dir = writeMigrationDir(files);
        assert.deepStrictEqual(await checkMigrations({ dir, connection: db.connection }), []);
        assert.strictEqual(await currentMigrationVersion(db.connection), "000");
        assert.strictEqual(await readCurrentVersion(client), "000");
        assert.strictEqual((await client.query("SELECT to_regclass('schema_migrations')::text AS t")).rows[0].t, null);

        await migrateUp({ dir, connection: db.connection, to: "002" });
        assert.strictEqual(await currentMigrationVersion(db.connection), "002");
        assert.strictEqual(await readCurrentVersion(client), "002");
        fs.appendFileSync(path.join(dir, "001_patients.sql"), "-- edited\n");
        const problems = await checkMigrations({ dir, connection: db.connection });
        assert.deepStrictEqual(
            problems.map(p => p.path),
            [`${dir}/001_patients.sql`],
        );
        assert.match(problems[0].message, /was edited after it was applied/);
        await client.query("DELETE FROM schema_migrations");
        assert.strictEqual(await readCurrentVersion(client), "000");
    });

    it("status: a row whose file is gone keeps its recorded name; applied rows say when and how long", async () => {
        const files = threeMigrations();
        const dir = writeMigrationDir(files);
        await migrateUp({ dir, connection: db.connection });
        fs.rmSync(path.join(dir, "003_patient_phone.sql"));
        const status = await migrationStatus({ dir, connection: db.connection });
        assert.deepStrictEqual([status.current, status.newest], ["003", "002"]);
        assert.deepStrictEqual(
            status.rows.map(r => [r.version, r.name, r.state, r.path]),
            [
                ["001", "patients", "applied", `${dir}/001_patients.sql`],
                ["002", "therapists", "applied", `${dir}/002_therapists.sql`],
                ["003", "patient_phone", "file-missing", undefined],
            ],
        );
        for (const row of status.rows) {
            assert.ok(row.appliedAt instanceof Date, String(row.appliedAt));
            assert.ok(Number.isInteger(row.executionMs), String(row.executionMs));
        }
        const pending = await migrationStatus({ dir: writeMigrationDir(files), connection: (await freshDatabase("status")).connection });
        assert.deepStrictEqual(
            pending.rows.map(r => [r.version, r.state, r.appliedAt, r.executionMs]),
            [
                ["001", "pending", undefined, undefined],
                ["002", "pending", undefined, undefined],
                ["003", "pending", undefined, undefined],
            ],
        );
        assert.deepStrictEqual([pending.current, pending.newest, pending.problems], ["000", "003", []]);
    });

    it("says once that it waits for another runner, naming it, and goes on when that runner lets go", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const holder = new Client(pgClientConfig(db.connection, "physioflow-other-runner"));
        await holder.connect();
        try {
            const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await holder.query("SELECT pg_advisory_lock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
            const letGo = new Promise(resolve => setTimeout(resolve, 800)).then(() =>
                holder.query("SELECT pg_advisory_unlock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]),
            );
            const progress = collect();
            const result = await migrateUp({ dir, connection: db.connection, progress, runnerWaitMs: 20_000 });
            await letGo;
            assert.deepStrictEqual(
                result.steps.map(s => s.version),
                ["001", "002", "003"],
            );
            const waits = progress.lines.filter(line => line.includes("waiting for the migration lock"));
            assert.strictEqual(waits.length, 1, progress.lines.join("\n"));
            assert.match(
                progress.lines[0],
                new RegExp(
                    `^migrate: waiting for the migration lock held by pid ${holderPid} "physioflow-other-runner", connected since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(up to 20\\.0 s\\)$`,
                ),
            );
        } finally {
            await holder.end();
        }
    });

    it("still migrates when the blocker watch gets no connection (role at its connection limit), and says the blocker was not caught", async () => {
        // The watch opens a second session; a role limited to one connection has none to spare.
        const role = `migrate_one_conn${process.pid}`;
        await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'one-connection' CONNECTION LIMIT 1`);
        await client.query(`ALTER DATABASE ${client.database} OWNER TO ${role}`);
        await client.query(`ALTER SCHEMA public OWNER TO ${role}`);
        const connection = { ...db.connection, user: role, password: "one-connection" };
        try {
            const dir = writeMigrationDir({
                ...threeMigrations(),
                "004_patient_notes.sql": "ALTER TABLE patients ADD COLUMN notes text;\n",
                "rollback/004_down.sql": "ALTER TABLE patients DROP COLUMN notes;\n",
            });
            const up = await migrateUp({ dir, connection, to: "003" });
            assert.deepStrictEqual(
                up.steps.map(s => s.version),
                ["001", "002", "003"],
            );
            const api = new Client(pgClientConfig(db.connection, "physioflow-api"));
            await api.connect();
            try {
                await api.query("BEGIN");
                await api.query("SELECT count(*) FROM patients");
                await assert.rejects(migrateUp({ dir, connection, lockTimeoutMs: 300 }), (error: Error) => {
                    assert.strictEqual(
                        error.message,
                        `${dir}/004_patient_notes.sql:1: gave up after lock_timeout 300 ms waiting for a lock held by another session ` +
                            `(it was not caught before the timeout; look in pg_stat_activity); rolled back, nothing from 004 was applied; ` +
                            `retry once that session is done (or end it), or give the file more time with "-- physioflow:lock-timeout 30s" (or --lock-timeout)`,
                    );
                    return true;
                });
            } finally {
                await api.end();
            }
            assert.strictEqual(await currentMigrationVersion(connection), "003");
        } finally {
            await client.query(`ALTER SCHEMA public OWNER TO CURRENT_USER`);
            await client.query(`ALTER DATABASE ${client.database} OWNER TO CURRENT_USER`);
            await client.query(`DROP OWNED BY ${role}`);
            await client.query(`DROP ROLE ${role}`);
        }
    });

    it("a data migration waiting for a row the API holds names the row's transaction and the session", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_names.sql": "UPDATE patients SET full_name = upper(full_name) WHERE id = 1;\n",
            "rollback/004_down.sql": "SELECT 1;\n",
        });
        await migrateUp({ dir, connection: db.connection, to: "003" });
        await client.query("INSERT INTO patients (id, full_name) VALUES (1, 'An')");
        const api = new Client(pgClientConfig(db.connection, "physioflow-api"));
        await api.connect();
        try {
            const pid = (await api.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await api.query("BEGIN");
            await api.query("SELECT full_name FROM patients WHERE id = 1 FOR UPDATE");
            const xid = (await api.query("SELECT pg_current_xact_id()::text AS xid")).rows[0].xid;
            await assert.rejects(migrateUp({ dir, connection: db.connection, lockTimeoutMs: 1000 }), (error: Error) => {
                assert.match(
                    error.message,
                    new RegExp(
                        `^${dir}/004_names\\.sql:1: gave up after lock_timeout 1\\.0 s waiting for ShareLock on a row changed or locked by transaction ${xid}, ` +
                            `held by pid ${pid} "physioflow-api" \\(holds ExclusiveLock; idle in transaction, transaction open [0-9.]+ m?s; last query started [0-9T:.Z-]+: SELECT pg_current_xact_id\\(\\)::text AS xid\\); ` +
                            `rolled back, nothing from 004 was applied;`,
                    ),
                );
                return true;
            });
        } finally {
            await api.end();
        }
        assert.strictEqual((await client.query("SELECT full_name FROM patients WHERE id = 1")).rows[0].full_name, "An");
        assert.strictEqual(await currentMigrationVersion(db.connection), "003");
    });

    it("a dry run takes no migration lock: it plans at once while another runner holds it", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const holder = await db.connect();
        try {
            await holder.query("SELECT pg_advisory_lock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
            const plan = await migrateUp({ dir, connection: db.connection, dryRun: true, runnerWaitMs: 200 });
            assert.deepStrictEqual(
                plan.steps.map(s => s.version),
                ["001", "002", "003"],
            );
            const down = await migrateDown({ dir, connection: db.connection, to: "000", dryRun: true, runnerWaitMs: 200 });
            assert.deepStrictEqual(down.steps, []);
        } finally {
            await holder.end();
        }
    });

    it("status lists versions in order whatever their source; a gone file without a recorded name has an empty name", async () => {
        // The old scripts' table: versions only.
        await client.query("CREATE TABLE schema_migrations (version text PRIMARY KEY)");
        await client.query("INSERT INTO schema_migrations VALUES ('001'), ('005')");
        const status = await migrationStatus({ dir: writeMigrationDir(threeMigrations()), connection: db.connection });
        assert.deepStrictEqual(
            status.rows.map(r => [r.version, r.name, r.state]),
            [
                ["001", "patients", "applied"],
                ["002", "therapists", "pending"],
                ["003", "patient_phone", "pending"],
                ["005", "", "file-missing"],
            ],
        );
    });

    it("lint: false (the benchmarks' seeding) applies a file the blue-green lint refuses", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_drop_phone.sql": "ALTER TABLE patients DROP COLUMN phone;\n",
            "rollback/004_down.sql": "ALTER TABLE patients ADD COLUMN phone text;\n",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection, lint: true }), /breaks the color still serving traffic/);
        const result = await migrateUp({ dir, connection: db.connection, lint: false });
        assert.deepStrictEqual(
            result.steps.map(s => s.version),
            ["001", "002", "003", "004"],
        );
    });

    it("an operator's cancel of a running migration rolls the file back, without blaming a statement_timeout it does not have", async () => {
        const dir = writeMigrationDir({
            "001_slow.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n",
            "rollback/001_down.sql": "DROP TABLE slow;\n",
        });
        const running = migrateUp({ dir, connection: db.connection });
        const outcome = running.then(
            () => undefined,
            (error: Error) => error,
        );
        let cancelled = false;
        for (let tries = 0; tries < 200 && !cancelled; tries++) {
            const result = await client.query(
                "SELECT pg_cancel_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'physioflow-migrate' AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
            );
            cancelled = result.rows.some(row => row.ok);
            await new Promise(resolve => setTimeout(resolve, 50));
        }
        assert.ok(cancelled, "the migration's pg_sleep was never seen running");
        const error = await outcome;
        assert.ok(error instanceof MigrationFailedError, String(error));
        assert.strictEqual(
            error.message,
            `${dir}/001_slow.sql:2: canceling statement due to user request [SQLSTATE 57014]; rolled back, nothing from 001 was applied`,
        );
        assert.strictEqual((await client.query("SELECT to_regclass('slow')::text AS t")).rows[0].t, null);
    });

    it("a file with a statement_timeout that fails for another reason gets no statement_timeout hint", async () => {
        const dir = writeMigrationDir({
            "001_bad.sql": "-- physioflow:statement-timeout 10s\nSELECT * FROM no_such_table;\n",
            "rollback/001_down.sql": "SELECT 1;\n",
        });
        await assert.rejects(migrateUp({ dir, connection: db.connection }), (error: Error) => {
            assert.strictEqual(
                error.message,
                `${dir}/001_bad.sql:2: relation "no_such_table" does not exist [SQLSTATE 42P01]; rolled back, nothing from 001 was applied`,
            );
            return true;
        });
    });

    it("a migration waiting for another session's advisory lock names the lock type", async () => {
        const dir = writeMigrationDir({
            "001_serialized.sql": "SELECT pg_advisory_xact_lock(4242);\n",
            "rollback/001_down.sql": "SELECT 1;\n",
        });
        const other = new Client(pgClientConfig(db.connection, "physioflow-report"));
        await other.connect();
        try {
            const pid = (await other.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await other.query("SELECT pg_advisory_lock(4242)");
            await assert.rejects(
                migrateUp({ dir, connection: db.connection, lockTimeoutMs: 1000 }),
                new RegExp(
                    `: ${dir}/001_serialized\\.sql:1: gave up after lock_timeout 1\\.0 s waiting for ExclusiveLock on advisory, held by pid ${pid} "physioflow-report" ` +
                        // A session-level lock is held outside any transaction: no transaction age.
                        `\\(holds ExclusiveLock; idle; last query started [0-9T:.Z-]+: SELECT pg_advisory_lock\\(4242\\)\\); rolled back`,
                ),
            );
        } finally {
            await other.end();
        }
    });

    it("the blocker watch is a session of its own name while the migration runs, and nothing of it (session, timer, socket) is left after", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_wait.sql": "SELECT pg_sleep(1.5);\n",
            "rollback/004_down.sql": "SELECT 1;\n",
        });
        const sessions = async () =>
            (await client.query("SELECT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'physioflow-migrate%' ORDER BY 1")).rows.map(
                r => r.name,
            );
        const handles = () =>
            process
                .getActiveResourcesInfo()
                .filter(kind => kind !== "TTYWrap")
                .sort();
        // What this process holds after one whole run (its own test timers, the client's socket); the next run must add nothing to it.
        await migrateUp({ dir, connection: db.connection, to: "003" });
        const before = handles();
        const running = migrateUp({ dir, connection: db.connection });
        let seen: string[] = [];
        for (let tries = 0; tries < 100 && seen.length < 2; tries++) {
            seen = await sessions();
            await new Promise(resolve => setTimeout(resolve, 20));
        }
        assert.deepStrictEqual(seen, ["physioflow-migrate", "physioflow-migrate-watch"]);
        await running;
        // A server process ends a moment after its client hangs up.
        for (let tries = 0; tries < 100 && (await sessions()).length > 0; tries++) {
            await new Promise(resolve => setTimeout(resolve, 20));
        }
        assert.deepStrictEqual(await sessions(), []);
        assert.deepStrictEqual(handles(), before, "a timer or socket left behind would keep the CLI from exiting");
    });

    it("does not lock schema_migrations to check its columns: a report holding it open does not stall the migration", async () => {
        const dir = writeMigrationDir({
            ...threeMigrations(),
            "004_patient_notes.sql": "ALTER TABLE patients ADD COLUMN notes text;\n",
            "rollback/004_down.sql": "ALTER TABLE patients DROP COLUMN notes;\n",
        });
        await migrateUp({ dir, connection: db.connection, to: "003" });
        const report = new Client(pgClientConfig(db.connection, "physioflow-report"));
        await report.connect();
        try {
            // The runbook's query, in a transaction left open.
            await report.query("BEGIN");
            await report.query("SELECT * FROM schema_migrations ORDER BY version DESC");
            const outcome = await Promise.race([
                migrateUp({ dir, connection: db.connection }).then(result => result.steps.map(s => s.version)),
                new Promise(resolve => setTimeout(() => resolve("still waiting after 10 s"), 10_000)),
            ]);
            assert.deepStrictEqual(outcome, ["004"]);
        } finally {
            await report.end();
        }
        // Stalled, the migration would still hold its lock and connection: end them.
        await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'physioflow-migrate%'");
    });

    it("an old scripts' table with a null checksum is applied, not edited", async () => {
        await client.query("CREATE TABLE schema_migrations (version text PRIMARY KEY, checksum text)");
        await client.query("CREATE TABLE patients (id bigint PRIMARY KEY, full_name text NOT NULL)");
        await client.query("INSERT INTO schema_migrations VALUES ('001', NULL)");
        const dir = writeMigrationDir(threeMigrations());
        const status = await migrationStatus({ dir, connection: db.connection });
        assert.deepStrictEqual(
            status.rows.map(r => [r.version, r.name, r.state, r.appliedAt, r.executionMs]),
            [
                ["001", "patients", "applied", null, null],
                ["002", "therapists", "pending", undefined, undefined],
                ["003", "patient_phone", "pending", undefined, undefined],
            ],
        );
        await migrateUp({ dir, connection: db.connection });
        const columns = (
            await client.query(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            )
        ).rows;
        assert.deepStrictEqual(
            columns.map(c => c.attname),
            ["version", "checksum", "name", "applied_at", "execution_ms", "applied_by"],
        );
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
                const release = new Promise(resolve => setTimeout(resolve, 1500)).then(() => blocker.api.query("COMMIT"));
                const started = Date.now();
                const result = await migrateUp({ dir, connection: db.connection, lockTimeoutMs: 500 });
                await release;
                assert.ok(Date.now() - started >= 1400, "it waited for the reading transaction to end");
                assert.deepStrictEqual(
                    result.steps.map(s => s.version),
                    ["004"],
                );
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
                    new RegExp(
                        `rollback/003_down\\.sql:1: gave up after lock_timeout 300 ms waiting for AccessExclusiveLock on patients, held by pid ${pid} "physioflow-api"`,
                    ),
                );
            } finally {
                await api.end();
            }
            assert.deepStrictEqual(await versions(client), ["001", "002", "003"]);
        });
    });

    describe("the migration advisory lock", () => {
        /** The same session, counting its lock attempts; `busy` makes every attempt report the lock taken. */
        const counting = (busy = false) => {
            const counted = {
                tries: 0,
                query: (text: string, values?: unknown[]) => {
                    if (text.includes("pg_try_advisory_lock")) {
                        counted.tries++;
                        if (busy) {
                            return Promise.resolve({ rows: [{ locked: false }] });
                        }
                    }
                    return client.query(text, values);
                },
            };
            return counted;
        };

        it("is let go by releaseMigrationLock: another session takes it at once", async () => {
            await acquireMigrationLock(client, { timeoutMs: 1000 });
            const other = await db.connect();
            try {
                const tryLock = async () =>
                    (await other.query("SELECT pg_try_advisory_lock($1, $2) AS locked", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key])).rows[0].locked;
                assert.strictEqual(await tryLock(), false);
                await releaseMigrationLock(client);
                assert.strictEqual(await tryLock(), true);
            } finally {
                await other.end();
            }
        });

        it("re-tries at its poll interval and never sleeps past its deadline", async () => {
            const holder = await db.connect();
            try {
                await holder.query("SELECT pg_advisory_lock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
                const polled = counting();
                await assert.rejects(acquireMigrationLock(polled as unknown as ClientBase, { timeoutMs: 1000, pollMs: 100 }), /gave up after/);
                assert.ok(polled.tries >= 4 && polled.tries <= 12, `${polled.tries} tries in 1 s at 100 ms`);

                const slow = counting();
                const started = Date.now();
                await assert.rejects(acquireMigrationLock(slow as unknown as ClientBase, { timeoutMs: 300, pollMs: 5000 }), /gave up after/);
                const waited = Date.now() - started;
                assert.ok(waited >= 290 && waited < 3000, `gave up after ${waited} ms with a 300 ms deadline and a 5 s interval`);
                assert.strictEqual(slow.tries, 2, "once at the start, once at the deadline");

                // The last sleep is what is left of the deadline, not a whole interval: 1.5 s + 0.5 s, not 1.5 s + 1.5 s.
                const later = counting();
                const laterStarted = Date.now();
                await assert.rejects(acquireMigrationLock(later as unknown as ClientBase, { timeoutMs: 2000, pollMs: 1500 }), /gave up after/);
                const laterWaited = Date.now() - laterStarted;
                assert.ok(laterWaited >= 1990 && laterWaited < 2700, `gave up after ${laterWaited} ms with a 2 s deadline and a 1.5 s interval`);
                assert.strictEqual(later.tries, 3);
            } finally {
                await holder.end();
            }
        });

        it("says so when the holder let go between the attempt and the look at pg_locks", async () => {
            const lines: string[] = [];
            await assert.rejects(
                acquireMigrationLock(counting(true) as unknown as ClientBase, { timeoutMs: 0, progress: { line: text => lines.push(text) } }),
                (error: Error) => {
                    assert.match(
                        error.message,
                        /^another migration runner holds the migration lock \(a session that just let go\); gave up after \d+ ms; retry when it finishes or raise --runner-wait$/,
                    );
                    return true;
                },
            );
            assert.deepStrictEqual(lines, ["migrate: waiting for the migration lock held by a session that just let go (up to 0 ms)"]);
        });
    });
});
