import * as assert from "assert";
import { AppliedMigration, validateMigrationSet } from "../../database/migrations/validate";
import { appliedRows, migrationSet, threeMigrations } from "./fixtures";

function messages(files: Record<string, string>, applied: string[] = [], tamper?: (rows: ReturnType<typeof appliedRows>) => void): string[] {
    const set = migrationSet(files);
    const rows = appliedRows(set, applied);
    tamper?.(rows);
    return validateMigrationSet(set, rows).map(p => p.message);
}

describe("validateMigrationSet", () => {
    it("accepts well-formed migrations, applied or not", () => {
        assert.deepStrictEqual(messages(threeMigrations()), []);
        assert.deepStrictEqual(messages(threeMigrations(), ["001", "002"]), []);
    });

    it("refuses a malformed file name, naming the file", () => {
        assert.deepStrictEqual(messages({ ...threeMigrations(), "4_add_notes.sql": "SELECT 1;" }), [
            "migrations/4_add_notes.sql: file name must be NNN_description.sql (three digits, an underscore, a description), e.g. 001_initial_schema.sql",
        ]);
        assert.deepStrictEqual(messages({ ...threeMigrations(), "rollback/003_undo.sql": "SELECT 1;" }), [
            "migrations/rollback/003_undo.sql: rollback file name must be NNN_down.sql, e.g. 005_down.sql",
        ]);
    });

    it("refuses duplicate numbers, naming both files", () => {
        const result = messages({ ...threeMigrations(), "003_other.sql": "SELECT 1;" });
        assert.deepStrictEqual(result, [
            "migrations/003_other.sql: duplicate migration number 003 (also migrations/003_patient_phone.sql); renumber one of them",
            "migrations/003_patient_phone.sql: duplicate migration number 003 (also migrations/003_other.sql); renumber one of them",
        ]);
    });

    it("refuses number 000", () => {
        assert.deepStrictEqual(messages({ "000_start.sql": "SELECT 1;", "rollback/000_down.sql": "SELECT 1;" }), [
            "migrations/000_start.sql: migration numbers start at 001 (000 means no migration applied)",
        ]);
    });

    it("refuses an applied file edited since (checksum)", () => {
        const files = threeMigrations();
        const set = migrationSet(files);
        const rows = appliedRows(set, ["001", "002"]);
        const edited = migrationSet({ ...files, "002_therapists.sql": "CREATE TABLE therapists (id bigint PRIMARY KEY);\n" });
        const [problem, ...rest] = validateMigrationSet(edited, rows).map(p => p.message);
        assert.deepStrictEqual(rest, []);
        assert.match(
            problem,
            /^migrations\/002_therapists\.sql: was edited after it was applied \(checksum [0-9a-f]{12} != applied [0-9a-f]{12}\); revert the edit and put the change in a new migration$/,
        );
    });

    it("does not compare checksums of rows written by older tools (null checksum)", () => {
        assert.deepStrictEqual(
            messages(threeMigrations(), ["001"], rows => (rows[0].checksum = null)),
            [],
        );
    });

    it("refuses an applied version whose file is gone", () => {
        const files = threeMigrations();
        const set = migrationSet(files);
        const rows = appliedRows(set, ["001", "002", "003"]);
        delete files["003_patient_phone.sql"];
        delete files["rollback/003_down.sql"];
        assert.deepStrictEqual(
            validateMigrationSet(migrationSet(files), rows).map(p => p.message),
            [
                "migrations/003_patient_phone.sql: migration 003 is applied to the database but its file is gone; restore the file (git history) before migrating",
            ],
        );
    });

    it("refuses a pending file older than the applied head", () => {
        assert.deepStrictEqual(messages(threeMigrations(), ["001", "003"]), [
            "migrations/002_therapists.sql: is pending but older than the applied head 003; renumber it above 003",
        ]);
    });

    it("refuses a migration with no down script, and a down script with no migration", () => {
        const files = threeMigrations();
        delete files["rollback/002_down.sql"];
        assert.deepStrictEqual(messages({ ...files, "rollback/009_down.sql": "SELECT 1;" }), [
            "migrations/002_therapists.sql: has no down script; add migrations/rollback/002_down.sql",
            "migrations/rollback/009_down.sql: down script for 009, but there is no migration 009_*.sql",
        ]);
    });

    it("refuses transaction control statements, empty files and multi-statement no-transaction files", () => {
        const result = messages({
            ...threeMigrations(),
            "004_tx.sql": "BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\n",
            "005_empty.sql": "-- nothing yet\n",
            "006_index.sql":
                "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY a ON patients (full_name);\nCREATE INDEX CONCURRENTLY b ON patients (phone);\n",
            "rollback/004_down.sql": "DROP TABLE x;",
            "rollback/005_down.sql": "SELECT 1;",
            "rollback/006_down.sql": "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY a;",
        });
        assert.deepStrictEqual(result, [
            'migrations/004_tx.sql: line 1: remove "BEGIN"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
            'migrations/004_tx.sql: line 3: remove "COMMIT"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)',
            "migrations/005_empty.sql: contains no SQL statement",
            "migrations/006_index.sql: is marked no-transaction but has 2 statements; put each non-transactional statement in its own migration so a failure cannot leave it half-applied",
        ]);
    });

    it("refuses statements that cannot run in a transaction unless the file is marked no-transaction", () => {
        const files = {
            ...threeMigrations(),
            "004_index.sql": "-- fast lookups\nCREATE INDEX CONCURRENTLY patients_phone_idx ON patients (phone);\n",
            "rollback/004_down.sql": "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY patients_phone_idx;\n",
        };
        assert.deepStrictEqual(messages(files), [
            'migrations/004_index.sql: line 2: this statement cannot run inside a transaction; put it alone in a file whose first line is "-- physioflow:no-transaction"',
        ]);
        files["004_index.sql"] = "-- physioflow:no-transaction\n" + files["004_index.sql"];
        assert.deepStrictEqual(messages(files), []);
    });

    it("refuses misspelled directives, naming the file and line", () => {
        assert.deepStrictEqual(
            messages({ ...threeMigrations(), "004_x.sql": "-- physioflow:notransaction\nSELECT 1;", "rollback/004_down.sql": "SELECT 1;" }),
            [
                'migrations/004_x.sql: line 1: unknown directive "physioflow:notransaction" (known: no-transaction, allow-breaking, lock-timeout, statement-timeout)',
            ],
        );
    });

    it("refuses SET lock_timeout or statement_timeout in a file: the runner sets them, the header changes them", () => {
        const files = {
            ...threeMigrations(),
            "004_slow.sql": "SET lock_timeout = 0;\nSET LOCAL statement_timeout = '1h';\nALTER TABLE patients ADD COLUMN notes text;\n",
            "rollback/004_down.sql": "ALTER TABLE patients DROP COLUMN notes;\n",
        };
        assert.deepStrictEqual(messages(files), [
            'migrations/004_slow.sql: line 1: remove "SET lock_timeout"; the runner sets it before every file: put "-- physioflow:lock-timeout <duration>" in the header instead',
            'migrations/004_slow.sql: line 2: remove "SET statement_timeout"; the runner sets it before every file: put "-- physioflow:statement-timeout <duration>" in the header instead',
        ]);
        files["004_slow.sql"] = "-- physioflow:lock-timeout 30s\n-- physioflow:statement-timeout 60m\nALTER TABLE patients ADD COLUMN notes text;\n";
        assert.deepStrictEqual(messages(files), []);
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
        assert.deepStrictEqual(
            messages(set).filter(m => m.includes("duplicate")),
            [
                "migrations/002_b.sql: duplicate migration number 002 (also migrations/002_c.sql, migrations/002_therapists.sql); renumber one of them",
                "migrations/002_c.sql: duplicate migration number 002 (also migrations/002_b.sql, migrations/002_therapists.sql); renumber one of them",
                "migrations/002_therapists.sql: duplicate migration number 002 (also migrations/002_b.sql, migrations/002_c.sql); renumber one of them",
            ],
        );
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
            "migrations/001_a.sql: is marked no-transaction but has 2 statements; put each non-transactional statement in its own migration so a failure cannot leave it half-applied",
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
        validateMigrationSet(migrationSet({ "001_x.sql": `${sql}\n`, "rollback/001_down.sql": "SELECT 1;\n" }), []).map(p =>
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
        const applied: AppliedMigration[] = [
            ...appliedRows(set, ["001", "002", "003"]),
            { version: "004", name: null, checksum: null, appliedAt: null, executionMs: null },
        ];
        assert.deepStrictEqual(validateMigrationSet(set, applied), [
            {
                path: "migrations/004_*.sql",
                message: "migrations/004_*.sql: migration 004 is applied to the database but its file is gone; restore the file (git history) before migrating",
            },
        ]);
    });
});
