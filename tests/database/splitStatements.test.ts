import * as assert from "assert";
import { lineOfPosition, splitStatements } from "../../database/sql/splitStatements";

describe("splitStatements", () => {
    it("splits on top-level semicolons and records each statement's first line", () => {
        assert.deepStrictEqual(splitStatements("-- header\n\nCREATE TABLE a (id int);\n\nINSERT INTO a\n  VALUES (1);\n"), [
            { text: "CREATE TABLE a (id int)", line: 3 },
            { text: "INSERT INTO a\n  VALUES (1)", line: 5 },
        ]);
    });

    it("keeps semicolons inside strings, quoted identifiers, comments and dollar quotes", () => {
        const sql = [
            "INSERT INTO t VALUES ('a;b', 'it''s;');",
            'SELECT 1 AS "x;y";',
            "SELECT 2 /* ; /* nested ; */ still comment ; */;",
            "SELECT 3; -- trailing ; comment",
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;",
            "SELECT $$;$$;",
            "SELECT E'back\\'slash;';",
        ].join("\n");
        assert.deepStrictEqual(
            splitStatements(sql).map(s => s.text),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                'SELECT 1 AS "x;y"',
                "SELECT 2 /* ; /* nested ; */ still comment ; */",
                "SELECT 3",
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$",
                "SELECT $$;$$",
                "SELECT E'back\\'slash;'",
            ],
        );
    });

    it("keeps a BEGIN ATOMIC function body (with CASE ... END inside) as one statement", () => {
        const sql =
            "CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        const statements = splitStatements(sql);
        assert.strictEqual(statements.length, 2);
        assert.ok(statements[0].text.endsWith("END"));
        assert.deepStrictEqual(statements[1], { text: "SELECT 3", line: 6 });
    });

    it("returns a last statement without a semicolon and drops comment-only input", () => {
        assert.deepStrictEqual(splitStatements("SELECT 1"), [{ text: "SELECT 1", line: 1 }]);
        assert.deepStrictEqual(splitStatements("-- only a comment\n/* and another */\n;\n"), []);
    });

    it("does not mistake positional parameters for dollar quotes", () => {
        assert.deepStrictEqual(
            splitStatements("PREPARE p AS SELECT $1; SELECT 2;").map(s => s.text),
            ["PREPARE p AS SELECT $1", "SELECT 2"],
        );
    });

    it("maps a 1-based error position inside a statement to the file line", () => {
        const [, second] = splitStatements("SELECT 1;\n\nSELECT\n  foo\nFROM bar;");
        assert.strictEqual(second.line, 3);
        assert.strictEqual(lineOfPosition(second, 1), 3);
        assert.strictEqual(lineOfPosition(second, second.text.indexOf("foo") + 1), 4);
        assert.strictEqual(lineOfPosition(second, second.text.indexOf("bar") + 1), 5);
    });
});
