import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError } from "../../database/errors";
import { highestVersion, migrationChecksum, parseDirectives, parseMigrationFileName, parseRollbackFileName } from "../../database/migrations/files";
import { loadMigrationSet } from "../../database/migrations/load";
import { fileTimeouts, parseDurationMs, timeoutSettingsSql } from "../../database/migrations/timeouts";

describe("migration file conventions", () => {
    it("parses NNN_description.sql and rejects anything else", () => {
        assert.deepStrictEqual(parseMigrationFileName("001_initial_schema.sql"), { version: "001", name: "initial_schema" });
        assert.deepStrictEqual(parseMigrationFileName("015_add-bhyt_cards.sql"), { version: "015", name: "add-bhyt_cards" });
        for (const bad of ["1_initial.sql", "0001_initial.sql", "001-initial.sql", "001_.sql", "001_initial.SQL.bak", "abc_initial.sql", "001_initial.txt"]) {
            assert.strictEqual(parseMigrationFileName(bad), undefined, bad);
        }
    });

    it("parses NNN_down.sql rollback names", () => {
        assert.strictEqual(parseRollbackFileName("011_down.sql"), "011");
        assert.strictEqual(parseRollbackFileName("011_up.sql"), undefined);
        assert.strictEqual(parseRollbackFileName("11_down.sql"), undefined);
    });

    it("checksums content, the same for LF and CRLF checkouts", () => {
        assert.strictEqual(migrationChecksum("SELECT 1;\n"), migrationChecksum("SELECT 1;\r\n"));
        assert.notStrictEqual(migrationChecksum("SELECT 1;\n"), migrationChecksum("SELECT 2;\n"));
        assert.match(migrationChecksum("x"), /^[0-9a-f]{64}$/);
    });

    it("reads header directives", () => {
        assert.deepStrictEqual(parseDirectives("CREATE TABLE t (id int);"), { directives: { transactional: true }, problems: [] });
        assert.deepStrictEqual(parseDirectives("-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);"), {
            directives: { transactional: false },
            problems: [],
        });
        assert.deepStrictEqual(parseDirectives("-- why\n--   physioflow:allow-breaking  column unused since v1.4  \nALTER TABLE t DROP COLUMN c;"), {
            directives: { transactional: true, allowBreaking: "column unused since v1.4" },
            problems: [],
        });
    });

    it("reports directive mistakes instead of ignoring them", () => {
        assert.deepStrictEqual(parseDirectives("-- physioflow:no-transactions\nSELECT 1;").problems, [
            'line 1: unknown directive "physioflow:no-transactions" (known: no-transaction, allow-breaking, lock-timeout, statement-timeout)',
        ]);
        assert.deepStrictEqual(parseDirectives("-- physioflow:allow-breaking\nSELECT 1;").problems, [
            'line 1: "-- physioflow:allow-breaking" needs a reason, e.g. "-- physioflow:allow-breaking column unused since v1.4"',
        ]);
        assert.deepStrictEqual(parseDirectives("SELECT 1;\n-- physioflow:no-transaction\n").problems, [
            'line 2: directive "physioflow:no-transaction" must be in the comment header before the first statement',
        ]);
    });

    it("reads lock-timeout and statement-timeout headers as milliseconds", () => {
        assert.deepStrictEqual(parseDirectives("-- physioflow:lock-timeout 30s\n-- physioflow:statement-timeout 10m\nALTER TABLE t ADD COLUMN c text;"), {
            directives: { transactional: true, lockTimeoutMs: 30_000, statementTimeoutMs: 600_000 },
            problems: [],
        });
        assert.deepStrictEqual(parseDirectives("-- physioflow:lock-timeout 500ms\n-- physioflow:statement-timeout 0\nSELECT 1;").directives, {
            transactional: true,
            lockTimeoutMs: 500,
            statementTimeoutMs: 0,
        });
    });

    it("refuses a timeout header that is not a duration, and a lock-timeout of zero", () => {
        assert.deepStrictEqual(
            parseDirectives("-- physioflow:lock-timeout soon\n-- physioflow:lock-timeout 0\n-- physioflow:statement-timeout\nSELECT 1;").problems,
            [
                'line 1: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "soon"',
                'line 2: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "0"',
                'line 3: "-- physioflow:statement-timeout" needs a duration (0 for no limit) such as 30s, 2m or 500ms, got ""',
            ],
        );
    });

    it("builds the timeout settings run before each file, the header over the run's default", () => {
        assert.strictEqual(timeoutSettingsSql(fileTimeouts({})), "SET lock_timeout = 5000; SET statement_timeout = 0");
        assert.strictEqual(timeoutSettingsSql(fileTimeouts({}, { lockTimeoutMs: 2000 })), "SET lock_timeout = 2000; SET statement_timeout = 0");
        assert.strictEqual(
            timeoutSettingsSql(fileTimeouts({ lockTimeoutMs: 30_000, statementTimeoutMs: 600_000 }, { lockTimeoutMs: 2000 })),
            "SET lock_timeout = 30000; SET statement_timeout = 600000",
        );
    });
});

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
                {
                    version: "001",
                    name: "a",
                    path: path.join(dir, "001_a.sql"),
                    sql: "CREATE TABLE t (id int);\n",
                    checksum: migrationChecksum("CREATE TABLE t (id int);\n"),
                    directives: { transactional: true },
                },
                {
                    version: "002",
                    name: "a",
                    path: path.join(dir, "002_a.sql"),
                    sql: "SELECT 2;\n",
                    checksum: migrationChecksum("SELECT 2;\n"),
                    directives: { transactional: true },
                },
                {
                    version: "002",
                    name: "B",
                    path: path.join(dir, "002_B.sql"),
                    sql: "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n",
                    checksum: migrationChecksum("-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n"),
                    directives: { transactional: false },
                },
            ],
            rollbacks: [
                { version: "001", path: path.join(dir, "rollback", "001_down.sql"), sql: "DROP TABLE t;\n", directives: { transactional: true } },
                {
                    version: "002",
                    path: path.join(dir, "rollback", "002_down.sql"),
                    sql: "-- physioflow:no-transaction\nDROP INDEX CONCURRENTLY i;\n",
                    directives: { transactional: false },
                },
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
        assert.deepStrictEqual(
            set.migrations.map(m => m.path),
            [path.join(dir, "001_a.sql")],
        );
        assert.deepStrictEqual(set.malformedMigrations, [path.join(dir, "003_upper.SQL"), path.join(dir, "1_short.sql")]);
        assert.deepStrictEqual(
            set.rollbacks.map(r => r.path),
            [path.join(dir, "rollback", "001_down.sql")],
        );
        assert.deepStrictEqual(set.malformedRollbacks, [path.join(dir, "rollback", "001_undo.sql")]);
        assert.deepStrictEqual(set.directiveProblems, [
            {
                path: path.join(dir, "001_a.sql"),
                problems: ['line 1: unknown directive "physioflow:no-transactions" (known: no-transaction, allow-breaking, lock-timeout, statement-timeout)'],
            },
            {
                path: path.join(dir, "rollback", "001_down.sql"),
                problems: ['line 1: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "soon"'],
            },
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
        await assert.rejects(
            loadMigrationSet(missing),
            (error: unknown) => error instanceof UsageError && error.message === `migrations directory not found: ${missing} (use --dir DIR)`,
        );
        // A file given as the directory: the same usage error.
        write("file.sql", "SELECT 1;\n");
        await assert.rejects(loadMigrationSet(path.join(dir, "file.sql")), UsageError);
        // Any other error (a symlink loop: ELOOP) is thrown as it is, not taken for "not found".
        fs.symlinkSync(path.join(dir, "loop"), path.join(dir, "loop"));
        await assert.rejects(
            loadMigrationSet(path.join(dir, "loop")),
            (error: NodeJS.ErrnoException) => !(error instanceof UsageError) && error.code === "ELOOP",
        );
    });
});

describe("parseDirectives: header edges", () => {
    it("blank lines and comments stay in the header; a directive after them counts", () => {
        assert.deepStrictEqual(parseDirectives("-- 005: split names\n\n   \n-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);"), {
            directives: { transactional: false },
            problems: [],
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
        assert.deepStrictEqual(parseDirectives("-- see -- physioflow:no-transaction in docs\nSELECT 1;"), {
            directives: { transactional: true },
            problems: [],
        });
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

describe("highestVersion", () => {
    it("is the highest of the versions, the floor when none is higher, 000 by default", () => {
        assert.strictEqual(highestVersion(["002", "010", "009"]), "010");
        assert.strictEqual(highestVersion([]), "000");
        assert.strictEqual(highestVersion(["001"], "003"), "003");
        assert.strictEqual(highestVersion(new Set(["004", "003"]), "003"), "004");
    });
});
