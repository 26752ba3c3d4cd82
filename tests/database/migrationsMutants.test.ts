/**
 * Behaviour of database/migrations/ pinned down precisely, where StrykerJS found a change to the
 * code that no other test noticed (npm run test:mutation:migrations).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { describeConnection, pgClientConfig } from "../../database/connection";
import { UsageError } from "../../database/errors";
import { BlockingSession, describeBlockers } from "../../database/migrations/blockers";
import { readCurrentVersion } from "../../database/migrations/history";
import { MIGRATION_LOCK } from "../../database/migrations/lock";
import { MigrationSet } from "../../database/migrations/load";
import { PlanStep, describeStep, parseVersionArgument, planDown, planUp, versionAfter } from "../../database/migrations/plan";
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
import { AppliedMigration } from "../../database/migrations/validate";
import { appliedRows, migrationSet, threeMigrations, writeMigrationDir } from "./fixtures";

describe("describeBlockers: who a migration statement waited for", () => {
    const session = (overrides: Partial<BlockingSession>): BlockingSession => ({
        pid: 4242,
        applicationName: "",
        state: null,
        heldModes: null,
        transactionMs: null,
        queryStart: null,
        query: null,
        ...overrides,
    });

    it("says it did not catch the blocker when there was no sighting, or one without sessions", () => {
        const missed = "a lock held by another session (it was not caught before the timeout; look in pg_stat_activity)";
        assert.strictEqual(describeBlockers(undefined), missed);
        assert.strictEqual(describeBlockers({ waitingFor: "AccessExclusiveLock on patients", blockers: [] }), missed);
    });

    it("names a session by pid alone when nothing else is known", () => {
        assert.strictEqual(describeBlockers({ waitingFor: "a lock", blockers: [session({})] }), "a lock, held by pid 4242");
    });

    it("lists every mode held, the state and transaction age, and the last query with its start", () => {
        const started = new Date("2026-11-29T08:00:00.000Z");
        assert.strictEqual(
            describeBlockers({
                waitingFor: "AccessExclusiveLock on patients",
                blockers: [
                    session({ applicationName: "physioflow-api", heldModes: "AccessShareLock,RowExclusiveLock", state: "idle in transaction", transactionMs: 3200, queryStart: started, query: "SELECT 1" }),
                    session({ pid: 7, state: "active", transactionMs: 20, queryStart: started }),
                ],
            }),
            'AccessExclusiveLock on patients, held by pid 4242 "physioflow-api" ' +
                "(holds AccessShareLock, RowExclusiveLock; idle in transaction, transaction open 3.2 s; last query started 2026-11-29T08:00:00.000Z: SELECT 1) " +
                "and pid 7 (active, transaction open 20 ms; query started 2026-11-29T08:00:00.000Z)",
        );
    });

    it("gives the transaction age without a state, and the state without a transaction", () => {
        assert.strictEqual(
            describeBlockers({ waitingFor: "a lock", blockers: [session({ transactionMs: 0 }), session({ pid: 5, state: "idle" })] }),
            "a lock, held by pid 4242 (transaction open 0 ms) and pid 5 (idle)",
        );
    });
});

describe("migration plans: edges", () => {
    // In beforeEach, not at load time, which StrykerJS would count as static (a restart per change).
    let set: MigrationSet;
    beforeEach(() => {
        set = migrationSet({
            ...threeMigrations(),
            "rollback/002_down.sql": "-- physioflow:no-transaction\nDROP TABLE therapists;\n",
        });
    });

    it("an up target of 000, or of the head whose file is gone, plans nothing instead of refusing", () => {
        assert.deepStrictEqual(planUp(set, [], "000"), []);
        const gone: AppliedMigration[] = [...appliedRows(set, ["001", "002", "003"]), { version: "004", name: "gone", checksum: null, appliedAt: null, executionMs: null }];
        assert.deepStrictEqual(planUp(set, gone, "004"), []);
    });

    it("without a target, plans up to the newest file whatever the order of the set", () => {
        const reversed = { ...set, migrations: [...set.migrations].reverse() };
        assert.deepStrictEqual(planUp(reversed, appliedRows(set, ["001"])).map((s) => s.version), ["003", "002"]);
        assert.deepStrictEqual(planUp({ ...set, migrations: [] }, []), []);
    });

    it("refuses to go down past a migration without a down script, naming the missing file", () => {
        const withoutRollback = { ...set, rollbacks: set.rollbacks.filter((r) => r.version !== "003") };
        assert.throws(() => planDown(withoutRollback, appliedRows(set, ["001", "002", "003"]), "001"), (e: Error) =>
            e instanceof UsageError && e.message === "cannot go down past 003: migrations/rollback/003_down.sql is missing");
        assert.throws(() => planDown(set, appliedRows(set, ["001"]), "002"), (e: Error) =>
            e instanceof UsageError && e.message === '--to 002 is above the current version 001; use "migrate up --to 002" to go forward');
    });

    it("describes a down step without a recorded name, and one without a transaction", () => {
        const applied: AppliedMigration[] = [
            { version: "001", name: null, checksum: null, appliedAt: null, executionMs: null },
            { version: "002", name: "therapists", checksum: null, appliedAt: null, executionMs: null },
        ];
        const steps = planDown(set, applied, "000");
        assert.deepStrictEqual(steps.map((s) => [s.version, s.name]), [["002", "therapists"], ["001", ""]]);
        assert.deepStrictEqual(steps.map(describeStep), [
            "revert 002 (therapists) with migrations/rollback/002_down.sql WITHOUT a transaction (no-transaction)",
            "revert 001 (unnamed) with migrations/rollback/001_down.sql in a transaction",
        ]);
        const [up] = planUp(set, []);
        assert.strictEqual(describeStep(up), "apply migrations/001_patients.sql in a transaction");
    });

    it("the version after a plan is the highest version left, 000 when none", () => {
        const applied = appliedRows(set, ["001", "002"]);
        assert.strictEqual(versionAfter([], applied), "002");
        assert.strictEqual(versionAfter(planDown(set, applied, "001"), applied), "001");
        assert.strictEqual(versionAfter([], []), "000");
    });

    it("names the option in a bad version's message", () => {
        assert.throws(() => parseVersionArgument("5", "--from"), (e: Error) =>
            e instanceof UsageError && e.message === '--from must be a three-digit migration number such as 005, got "5"');
        assert.throws(() => parseVersionArgument("5"), (e: Error) => e.message === '--to must be a three-digit migration number such as 005, got "5"');
    });
});

describe("migration runner: what it reports, against PostgreSQL", function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let client: Client;

    beforeEach(async () => {
        db = await freshDatabase("mutants");
        client = await db.connect();
    });
    afterEach(async () => {
        await client.end();
    });

    const collect = (): Progress & { lines: string[] } => {
        const lines: string[] = [];
        return { lines, line: (text) => lines.push(text) };
    };

    it("says where it starts and each file it applied or reverted, with the step count", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const progress = collect();
        const up = await migrateUp({ dir, connection: db.connection, progress, to: "002" });
        assert.strictEqual(up.dryRun, false);
        assert.ok(up.steps.every((s) => Number.isInteger(s.executionMs) && s.executionMs! >= 0), JSON.stringify(up.steps));
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
            calls.push({ from: plan.from, to: plan.to, versions: plan.steps.map((s) => s.version), tables: table });
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
        assert.deepStrictEqual(problems.map((p) => p.path), [`${dir}/001_patients.sql`]);
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
        assert.deepStrictEqual(status.rows.map((r) => [r.version, r.name, r.state, r.path]), [
            ["001", "patients", "applied", `${dir}/001_patients.sql`],
            ["002", "therapists", "applied", `${dir}/002_therapists.sql`],
            ["003", "patient_phone", "file-missing", undefined],
        ]);
        for (const row of status.rows) {
            assert.ok(row.appliedAt instanceof Date, String(row.appliedAt));
            assert.ok(Number.isInteger(row.executionMs), String(row.executionMs));
        }
        const pending = await migrationStatus({ dir: writeMigrationDir(files), connection: (await freshDatabase("status")).connection });
        assert.deepStrictEqual(pending.rows.map((r) => [r.version, r.state, r.appliedAt, r.executionMs]), [
            ["001", "pending", undefined, undefined],
            ["002", "pending", undefined, undefined],
            ["003", "pending", undefined, undefined],
        ]);
        assert.deepStrictEqual([pending.current, pending.newest, pending.problems], ["000", "003", []]);
    });

    it("says once that it waits for another runner, naming it, and goes on when that runner lets go", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const holder = new Client(pgClientConfig(db.connection, "physioflow-other-runner"));
        await holder.connect();
        try {
            const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await holder.query("SELECT pg_advisory_lock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
            const letGo = new Promise((resolve) => setTimeout(resolve, 800)).then(() =>
                holder.query("SELECT pg_advisory_unlock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]),
            );
            const progress = collect();
            const result = await migrateUp({ dir, connection: db.connection, progress, runnerWaitMs: 20_000 });
            await letGo;
            assert.deepStrictEqual(result.steps.map((s) => s.version), ["001", "002", "003"]);
            const waits = progress.lines.filter((line) => line.includes("waiting for the migration lock"));
            assert.strictEqual(waits.length, 1, progress.lines.join("\n"));
            assert.match(
                progress.lines[0],
                new RegExp(`^migrate: waiting for the migration lock held by pid ${holderPid} "physioflow-other-runner", connected since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(up to 20\\.0 s\\)$`),
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
            assert.deepStrictEqual(up.steps.map((s) => s.version), ["001", "002", "003"]);
            const api = new Client(pgClientConfig(db.connection, "physioflow-api"));
            await api.connect();
            try {
                await api.query("BEGIN");
                await api.query("SELECT count(*) FROM patients");
                await assert.rejects(
                    migrateUp({ dir, connection, lockTimeoutMs: 300 }),
                    (error: Error) => {
                        assert.strictEqual(
                            error.message,
                            `${dir}/004_patient_notes.sql:1: gave up after lock_timeout 300 ms waiting for a lock held by another session ` +
                                `(it was not caught before the timeout; look in pg_stat_activity); rolled back, nothing from 004 was applied; ` +
                                `retry once that session is done (or end it), or give the file more time with "-- physioflow:lock-timeout 30s" (or --lock-timeout)`,
                        );
                        return true;
                    },
                );
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
            assert.deepStrictEqual(plan.steps.map((s) => s.version), ["001", "002", "003"]);
            const down = await migrateDown({ dir, connection: db.connection, to: "000", dryRun: true, runnerWaitMs: 200 });
            assert.deepStrictEqual(down.steps, []);
        } finally {
            await holder.end();
        }
    });

    it("an old scripts' table with a null checksum is applied, not edited", async () => {
        await client.query("CREATE TABLE schema_migrations (version text PRIMARY KEY, checksum text)");
        await client.query("CREATE TABLE patients (id bigint PRIMARY KEY, full_name text NOT NULL)");
        await client.query("INSERT INTO schema_migrations VALUES ('001', NULL)");
        const dir = writeMigrationDir(threeMigrations());
        const status = await migrationStatus({ dir, connection: db.connection });
        assert.deepStrictEqual(status.rows.map((r) => [r.version, r.name, r.state, r.appliedAt, r.executionMs]), [
            ["001", "patients", "applied", null, null],
            ["002", "therapists", "pending", undefined, undefined],
            ["003", "patient_phone", "pending", undefined, undefined],
        ]);
        await migrateUp({ dir, connection: db.connection });
        const columns = (await client.query("SELECT attname FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")).rows;
        assert.deepStrictEqual(columns.map((c) => c.attname), ["version", "checksum", "name", "applied_at", "execution_ms", "applied_by"]);
    });
});
