/**
 * Reading a migrations directory, file headers and durations, validation, plans and the blocker
 * message, pinned down where StrykerJS found a change to database/migrations/ that no other test
 * noticed (npm run test:mutation:migration-files and :migrations). Pure: temp directories, no database.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError } from "../../database/errors";
import { highestVersion, migrationChecksum, parseDirectives } from "../../database/migrations/files";
import { BlockingSession, describeBlockers } from "../../database/migrations/blockers";
import { MigrationSet, loadMigrationSet } from "../../database/migrations/load";
import { describeStep, parseVersionArgument, planDown, planUp, versionAfter } from "../../database/migrations/plan";
import { parseDurationMs } from "../../database/migrations/timeouts";
import { AppliedMigration, validateMigrationSet } from "../../database/migrations/validate";
import { appliedRows, migrationSet, threeMigrations } from "./fixtures";

describe("loadMigrationSet: what a migrations directory holds", () => {
    let dir: string;
    const write = (relative: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
        fs.writeFileSync(path.join(dir, relative), text);
    };
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-load-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads each file whole, with its checksum and header, and sorts by version then path (by locale: a before B)", async () => {
        write("002_B.sql", "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n");
        write("001_a.sql", "CREATE TABLE t (id int);\n");
        write("002_a.sql", "SELECT 2;\n");
        write("rollback/002_down.sql", "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY i;\n");
        write("rollback/001_down.sql", "DROP TABLE t;\n");
        const set = await loadMigrationSet(dir);
        assert.deepStrictEqual(set, {
            dir,
            migrations: [
                { version: "001", name: "a", path: path.join(dir, "001_a.sql"), sql: "CREATE TABLE t (id int);\n",
                    checksum: migrationChecksum("CREATE TABLE t (id int);\n"), directives: { transactional: true } },
                { version: "002", name: "a", path: path.join(dir, "002_a.sql"), sql: "SELECT 2;\n",
                    checksum: migrationChecksum("SELECT 2;\n"), directives: { transactional: true } },
                { version: "002", name: "B", path: path.join(dir, "002_B.sql"), sql: "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n",
                    checksum: migrationChecksum("-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n"), directives: { transactional: false } },
            ],
            rollbacks: [
                { version: "001", path: path.join(dir, "rollback", "001_down.sql"), sql: "DROP TABLE t;\n", directives: { transactional: true } },
                { version: "002", path: path.join(dir, "rollback", "002_down.sql"), sql: "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY i;\n",
                    directives: { transactional: false } },
            ],
            malformedMigrations: [],
            malformedRollbacks: [],
            directiveProblems: [],
        });
    });

    it("lists malformed names and directive problems of both kinds of file; ignores what is not a .sql file", async () => {
        write("001_a.sql", "-- physioflow:no-transactions\nSELECT 1;\n");
        write("1_short.sql", "SELECT 1;\n");
        write("003_upper.SQL", "SELECT 1;\n");
        write("notes.txt", "not a migration");
        write("004_dir.sql/inside.sql", "a directory named like a file");
        write("rollback/001_down.sql", "-- physioflow:lock-timeout soon\nSELECT 1;\n");
        write("rollback/001_undo.sql", "SELECT 1;\n");
        write("rollback/readme.md", "ignored");
        const set = await loadMigrationSet(dir);
        assert.deepStrictEqual(set.migrations.map(m => m.path), [path.join(dir, "001_a.sql")]);
        assert.deepStrictEqual(set.malformedMigrations, [path.join(dir, "003_upper.SQL"), path.join(dir, "1_short.sql")]);
        assert.deepStrictEqual(set.rollbacks.map(r => r.path), [path.join(dir, "rollback", "001_down.sql")]);
        assert.deepStrictEqual(set.malformedRollbacks, [path.join(dir, "rollback", "001_undo.sql")]);
        assert.deepStrictEqual(set.directiveProblems, [
            { path: path.join(dir, "001_a.sql"), problems: ['line 1: unknown directive "physioflow:no-transactions" (known: no-transaction, allow-breaking, lock-timeout, statement-timeout)'] },
            { path: path.join(dir, "rollback", "001_down.sql"), problems: ['line 1: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "soon"'] },
        ]);
    });

    it("a name must be the whole file name: a doubled extension or a prefix makes it malformed", async () => {
        write("001_a.sql.sql", "SELECT 1;\n");
        write("rollback/001_down.sql.sql", "SELECT 1;\n");
        write("rollback/v002_down.sql", "SELECT 1;\n");
        const set = await loadMigrationSet(dir);
        assert.deepStrictEqual([set.migrations, set.rollbacks], [[], []]);
        assert.deepStrictEqual(set.malformedMigrations, [path.join(dir, "001_a.sql.sql")]);
        assert.deepStrictEqual(set.malformedRollbacks, [path.join(dir, "rollback", "001_down.sql.sql"), path.join(dir, "rollback", "v002_down.sql")]);
    });

    it("no rollback folder, or a file in its place, means no down scripts", async () => {
        write("001_a.sql", "SELECT 1;\n");
        assert.deepStrictEqual((await loadMigrationSet(dir)).rollbacks, []);
        write("rollback", "a file, not a folder");
        const set = await loadMigrationSet(dir);
        assert.deepStrictEqual([set.rollbacks, set.malformedRollbacks, set.migrations.length], [[], [], 1]);
    });

    it("a missing directory is a usage error naming it and --dir; an unreadable one is not hidden", async () => {
        const missing = path.join(dir, "nope");
        await assert.rejects(loadMigrationSet(missing), (error: unknown) =>
            error instanceof UsageError && error.message === `migrations directory not found: ${missing} (use --dir DIR)`);
        // A file given as the directory: the same usage error.
        write("file.sql", "SELECT 1;\n");
        await assert.rejects(loadMigrationSet(path.join(dir, "file.sql")), UsageError);
        // Any other error (a symlink loop: ELOOP) is thrown as it is, not taken for "not found".
        fs.symlinkSync(path.join(dir, "loop"), path.join(dir, "loop"));
        await assert.rejects(loadMigrationSet(path.join(dir, "loop")), (error: NodeJS.ErrnoException) =>
            !(error instanceof UsageError) && error.code === "ELOOP");
    });
});

describe("parseDirectives: header edges", () => {
    it("blank lines and comments stay in the header; a directive after them counts", () => {
        assert.deepStrictEqual(parseDirectives("-- 005: split names\n\n   \n-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);"), {
            directives: { transactional: false }, problems: [],
        });
    });

    it("reads CRLF files line by line, numbering lines from 1", () => {
        assert.deepStrictEqual(parseDirectives("-- a\r\n-- physioflow:lock-timeout 2s\r\nSELECT 1;\r\n-- physioflow:no-transaction\r\n"), {
            directives: { transactional: true, lockTimeoutMs: 2000 },
            problems: ['line 4: directive "physioflow:no-transaction" must be in the comment header before the first statement'],
        });
    });

    it("a directive may follow -- without a space, and indentation; it must start the comment", () => {
        assert.deepStrictEqual(parseDirectives("  --physioflow:no-transaction\nSELECT 1;").directives, { transactional: false });
        // "physioflow:" in the middle of a header comment is prose, not a directive.
        assert.deepStrictEqual(parseDirectives("-- see -- physioflow:no-transaction in docs\nSELECT 1;"), { directives: { transactional: true }, problems: [] });
        assert.deepStrictEqual(parseDirectives("-- physioflow:lock-timeout   30s   \nSELECT 1;").directives, { transactional: true, lockTimeoutMs: 30_000 });
    });

    it("below the header, a directive is found anywhere in a line, with or without a space after --", () => {
        assert.deepStrictEqual(parseDirectives("SELECT 1; --physioflow:no-transaction\nSELECT 2; --  physioflow:lock-timeout 1s").problems, [
            'line 1: directive "physioflow:no-transaction" must be in the comment header before the first statement',
            'line 2: directive "physioflow:lock-timeout" must be in the comment header before the first statement',
        ]);
        assert.deepStrictEqual(parseDirectives("SELECT 1;\n-- physioflow is our name\n").problems, []);
    });
});

describe("parseDirectives: the argument", () => {
    it("is what follows the name and its spaces, as written: a value glued on with = is shown back whole", () => {
        assert.deepStrictEqual(parseDirectives("-- physioflow:lock-timeout=30s\nSELECT 1;\n").problems, [
            'line 1: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "=30s"',
        ]);
        assert.deepStrictEqual(parseDirectives("--   physioflow:allow-breaking   column unused since v1.4   \nSELECT 1;\n").directives, {
            transactional: true,
            allowBreaking: "column unused since v1.4",
        });
    });
});

describe("parseDurationMs: the whole text is one duration", () => {
    it("reads ms, s, m and plain seconds, around spaces", () => {
        assert.deepStrictEqual(["500ms", "30s", "2m", "30", " 45s ", "0", "120s"].map(parseDurationMs), [500, 30_000, 120_000, 30_000, 45_000, 0, 120_000]);
    });
    it("refuses anything else", () => {
        assert.deepStrictEqual(["x30s", "30sx", "1.5s", "-5s", "5 s", "s", "", "30h", "ms"].map(parseDurationMs), Array(9).fill(undefined));
    });
});

describe("validateMigrationSet: exact messages at the edges", () => {
    const messages = (set: ReturnType<typeof migrationSet>, applied: AppliedMigration[] = []) =>
        validateMigrationSet(set, applied).map(problem => problem.message);

    it("a duplicate number names the other files, not the file itself", () => {
        const set = migrationSet({
            ...threeMigrations(),
            "002_b.sql": "SELECT 2;\n",
            "002_c.sql": "SELECT 3;\n",
        });
        assert.deepStrictEqual(messages(set).filter(m => m.includes("duplicate")), [
            "migrations/002_b.sql: duplicate migration number 002 (also migrations/002_c.sql, migrations/002_therapists.sql); renumber one of them",
            "migrations/002_c.sql: duplicate migration number 002 (also migrations/002_b.sql, migrations/002_therapists.sql); renumber one of them",
            "migrations/002_therapists.sql: duplicate migration number 002 (also migrations/002_b.sql, migrations/002_c.sql); renumber one of them",
        ]);
    });

    it("a down script whose migration is applied but gone is not an orphan (only the missing file is reported)", () => {
        const files = threeMigrations();
        const applied = appliedRows(migrationSet(files), ["001", "002", "003"]);
        delete files["003_patient_phone.sql"];
        assert.deepStrictEqual(messages(migrationSet(files), applied), [
            "migrations/003_patient_phone.sql: migration 003 is applied to the database but its file is gone; restore the file (git history) before migrating",
        ]);
        // Not applied and no file: an orphan.
        assert.deepStrictEqual(messages(migrationSet(files), applied.slice(0, 2)), [
            "migrations/rollback/003_down.sql: down script for 003, but there is no migration 003_*.sql",
        ]);
    });

    it("problems of one file come in the order of their messages", () => {
        const set = migrationSet({
            "001_a.sql": "-- physioflow:no-transaction\nSET lock_timeout = 0;\nCOMMIT;\n",
            "rollback/001_down.sql": "SELECT 1;\n",
        });
        assert.deepStrictEqual(messages(set), [
            'migrations/001_a.sql: is marked no-transaction but has 2 statements; put each non-transactional statement in its own migration so a failure cannot leave it half-applied',
            'migrations/001_a.sql: line 2: remove "SET lock_timeout"; the runner sets it before every file: put "-- physioflow:lock-timeout <duration>" in the header instead',
            'migrations/001_a.sql: line 3: remove "COMMIT"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
        ]);
    });

    it("names the first word of a transaction-control statement written over several lines", () => {
        const set = migrationSet({ "001_a.sql": "START\n    TRANSACTION;\nSELECT 1;\n", "rollback/001_down.sql": "SELECT 1;\n" });
        assert.deepStrictEqual(messages(set), [
            'migrations/001_a.sql: line 1: remove "START"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
        ]);
    });

    it("a pending file older than the head says the highest number to go above", () => {
        const files = threeMigrations();
        const applied = appliedRows(migrationSet(files), ["001", "003"]);
        assert.deepStrictEqual(messages(migrationSet({ ...files, "004_later.sql": "SELECT 4;\n", "rollback/004_down.sql": "SELECT 1;\n" }), applied), [
            "migrations/002_therapists.sql: is pending but older than the applied head 003; renumber it above 004",
        ]);
    });
});

describe("validateMigrationSet: which statements a file refuses", () => {
    const NOT_IN_TRANSACTION = 'this statement cannot run inside a transaction; put it alone in a file whose first line is "-- physioflow:no-transaction"';
    /** The problems of a one-statement transactional file 001 (with a down script), without its path. */
    const problems = (sql: string): string[] =>
        validateMigrationSet(migrationSet({ "001_x.sql": `${sql}\n`, "rollback/001_down.sql": "SELECT 1;\n" }), []).map((p) =>
            p.message.replace(/^migrations\/001_x\.sql: /, ""),
        );

    it("refuses each statement PostgreSQL runs only outside a transaction, however it is spaced", () => {
        const outside = [
            "CREATE INDEX CONCURRENTLY i ON t (id);",
            "create  unique\n  index\t concurrently i on t (id);",
            "DROP INDEX CONCURRENTLY i;",
            "drop\n  index  concurrently i;",
            "REINDEX TABLE CONCURRENTLY patients;",
            "REINDEX (VERBOSE) INDEX\n  CONCURRENTLY i;",
            "VACUUM patients;",
            "VACUUM;",
            "CREATE DATABASE x;",
            "create  database x;",
            "DROP DATABASE x;",
            "drop\n database x;",
            "ALTER SYSTEM SET work_mem = '8MB';",
            "alter  system set work_mem = '8MB';",
            "CREATE TABLESPACE ts LOCATION '/srv/ts';",
            "create  tablespace ts location '/srv/ts';",
            "DROP TABLESPACE ts;",
            "drop  tablespace ts;",
            "ALTER TABLE measurements DETACH PARTITION m2020 CONCURRENTLY;",
            "alter  table measurements\n  detach  partition m2020\n  concurrently;",
        ];
        for (const sql of outside) {
            assert.deepStrictEqual(problems(sql), [`line 1: ${NOT_IN_TRANSACTION}`], sql);
        }
    });

    it("accepts their transactional forms, and the words inside other statements", () => {
        const inside = [
            "CREATE INDEX i ON t (id);",
            "DROP INDEX i;",
            "REINDEX INDEX i;",
            "ALTER TABLE measurements DETACH PARTITION m2020;",
            "ALTER TABLE measurements DETACH PARTITION m2020 FINALIZE;",
            "COMMENT ON INDEX i IS 'to be replaced: create index concurrently, then drop index concurrently';",
            "INSERT INTO notes (body) VALUES ('vacuum the waiting room; begin at the end; commit; rollback');",
            "ALTER ROLE emr SET lock_timeout = '2s';",
            "UPDATE settings SET statement_timeout = 0;",
            "CREATE TABLE savepoints (id int);",
        ];
        for (const sql of inside) {
            assert.deepStrictEqual(problems(sql), [], sql);
        }
    });

    it("refuses transaction control and timeout settings at the start of a statement, however spaced", () => {
        assert.deepStrictEqual(problems("PREPARE  TRANSACTION 'x';"), [
            'line 1: remove "PREPARE"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
        ]);
        assert.deepStrictEqual(problems("start\n  transaction;"), [
            'line 1: remove "start"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
        ]);
        assert.deepStrictEqual(problems("SET  lock_timeout = '1s';"), [
            'line 1: remove "SET lock_timeout"; the runner sets it before every file: put "-- physioflow:lock-timeout <duration>" in the header instead',
        ]);
        assert.deepStrictEqual(problems("SET LOCAL   statement_timeout = 0;"), [
            'line 1: remove "SET statement_timeout"; the runner sets it before every file: put "-- physioflow:statement-timeout <duration>" in the header instead',
        ]);
        assert.deepStrictEqual(problems("set session\n statement_timeout to 0;"), [
            'line 1: remove "SET statement_timeout"; the runner sets it before every file: put "-- physioflow:statement-timeout <duration>" in the header instead',
        ]);
    });

    it("an applied migration whose file is gone and whose name was never recorded is shown as NNN_*.sql", () => {
        const set = migrationSet(threeMigrations());
        const applied: AppliedMigration[] = [...appliedRows(set, ["001", "002", "003"]), { version: "004", name: null, checksum: null, appliedAt: null, executionMs: null }];
        assert.deepStrictEqual(validateMigrationSet(set, applied), [
            { path: "migrations/004_*.sql", message: "migrations/004_*.sql: migration 004 is applied to the database but its file is gone; restore the file (git history) before migrating" },
        ]);
    });
});

describe("highestVersion", () => {
    it("is the highest of the versions, the floor when none is higher, 000 by default", () => {
        assert.strictEqual(highestVersion(["002", "010", "009"]), "010");
        assert.strictEqual(highestVersion([]), "000");
        assert.strictEqual(highestVersion(["001"], "003"), "003");
        assert.strictEqual(highestVersion(new Set(["004", "003"]), "003"), "004");
    });
});

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
