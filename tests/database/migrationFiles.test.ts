import * as assert from "assert";
import { migrationChecksum, parseDirectives, parseMigrationFileName, parseRollbackFileName } from "../../database/migrations/files";

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
            'line 1: unknown directive "physioflow:no-transactions" (known: no-transaction, allow-breaking)',
        ]);
        assert.deepStrictEqual(parseDirectives("-- physioflow:allow-breaking\nSELECT 1;").problems, [
            'line 1: "-- physioflow:allow-breaking" needs a reason, e.g. "-- physioflow:allow-breaking column unused since v1.4"',
        ]);
        assert.deepStrictEqual(parseDirectives("SELECT 1;\n-- physioflow:no-transaction\n").problems, [
            'line 2: directive "physioflow:no-transaction" must be in the comment header before the first statement',
        ]);
    });
});
