import * as assert from "assert";
import { migrationChecksum, parseDirectives, parseMigrationFileName, parseRollbackFileName } from "../../database/migrations/files";
import { fileTimeouts, timeoutSettingsSql } from "../../database/migrations/timeouts";

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
        assert.deepStrictEqual(parseDirectives("-- physioflow:lock-timeout soon\n-- physioflow:lock-timeout 0\n-- physioflow:statement-timeout\nSELECT 1;").problems, [
            'line 1: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "soon"',
            'line 2: "-- physioflow:lock-timeout" needs a duration above zero such as 30s, 2m or 500ms, got "0"',
            'line 3: "-- physioflow:statement-timeout" needs a duration (0 for no limit) such as 30s, 2m or 500ms, got ""',
        ]);
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
