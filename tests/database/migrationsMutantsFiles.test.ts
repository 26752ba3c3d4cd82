/**
 * Reading a migrations directory, file headers and durations, pinned down where StrykerJS found a
 * change to database/migrations/ (load.ts, files.ts, timeouts.ts) that no other test noticed
 * (npm run test:mutation:migrations). Pure: temp directories, no database.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError } from "../../database/errors";
import { highestVersion, migrationChecksum, parseDirectives } from "../../database/migrations/files";
import { loadMigrationSet } from "../../database/migrations/load";
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

describe("highestVersion", () => {
    it("is the highest of the versions, the floor when none is higher, 000 by default", () => {
        assert.strictEqual(highestVersion(["002", "010", "009"]), "010");
        assert.strictEqual(highestVersion([]), "000");
        assert.strictEqual(highestVersion(["001"], "003"), "003");
        assert.strictEqual(highestVersion(new Set(["004", "003"]), "003"), "004");
    });
});
