import * as assert from "assert";
import { lintMigrationFiles } from "../../database/lint/lintMigrations";
import { FileLintReport, RUNNER_HANDLED_RULES, SquawkFinding, evaluateLint, formatLintReport } from "../../database/lint/rules";
import { runSquawk } from "../../database/lint/squawk";
import { loadMigrationSet } from "../../database/migrations/load";
import { writeMigrationDir } from "./fixtures";

async function lintOne(sql: string): Promise<FileLintReport> {
    const dir = writeMigrationDir({ "001_change.sql": sql, "rollback/001_down.sql": "SELECT 1;" });
    const set = await loadMigrationSet(dir);
    const [report] = await lintMigrationFiles(set.migrations);
    return report;
}

function breakingRules(report: FileLintReport): string[] {
    return report.violations.filter(v => v.severity === "breaking").map(v => `${v.line}:${v.rule}`);
}

describe("blue-green lint rules (pure)", () => {
    const finding = (line: number, rule: string): SquawkFinding => ({ file: "m/001_x.sql", line, rule, message: "squawk says" });

    it("fails on breaking rules, reports warnings, ignores style rules", () => {
        const report = evaluateLint("m/001_x.sql", [
            finding(3, "prefer-robust-stmts"),
            finding(2, "require-concurrent-index-creation"),
            finding(1, "ban-drop-column"),
        ]);
        assert.strictEqual(report.ok, false);
        assert.deepStrictEqual(
            report.violations.map(v => [v.line, v.rule, v.severity]),
            [
                [1, "ban-drop-column", "breaking"],
                [2, "require-concurrent-index-creation", "warning"],
            ],
        );
        assert.deepStrictEqual(formatLintReport([report]), [
            "FAIL    m/001_x.sql (1 breaking)",
            "        m/001_x.sql:1: breaking [ban-drop-column] drops a column the running (old) color still reads or writes",
            "        m/001_x.sql:2: warning [require-concurrent-index-creation] CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
        ]);
    });

    it("lets an explicit allow-breaking reason through and says so", () => {
        const report = evaluateLint("m/001_x.sql", [finding(1, "ban-drop-table")], "table unused since v1.4");
        assert.deepStrictEqual([report.ok, report.allowedBecause], [true, "table unused since v1.4"]);
        assert.strictEqual(formatLintReport([report])[0], "ALLOWED m/001_x.sql (allow-breaking: table unused since v1.4)");
    });

    it("passes warnings only", () => {
        assert.strictEqual(evaluateLint("m/001_x.sql", [finding(1, "adding-foreign-key-constraint")]).ok, true);
    });
});

describe("blue-green lint with squawk (real binary)", function () {
    this.timeout(60_000);

    const breaking: [string, string, string][] = [
        ["dropping a column", "ALTER TABLE patients DROP COLUMN phone;", "1:ban-drop-column"],
        ["dropping a table", "DROP TABLE soap_notes;", "1:ban-drop-table"],
        ["renaming a column", "ALTER TABLE patients RENAME COLUMN full_name TO name;", "1:renaming-column"],
        ["renaming a table", "ALTER TABLE patients RENAME TO clients;", "1:renaming-table"],
        ["adding a NOT NULL column without a default", "ALTER TABLE patients ADD COLUMN national_id_verified boolean NOT NULL;", "1:adding-required-field"],
        ["changing a column type", "ALTER TABLE patients ALTER COLUMN phone TYPE varchar(20);", "1:changing-column-type"],
        ["setting NOT NULL on an existing column", "ALTER TABLE patients ALTER COLUMN phone SET NOT NULL;", "1:adding-not-nullable-field"],
    ];
    for (const [what, sql, expected] of breaking) {
        it(`flags ${what}`, async () => {
            const report = await lintOne(`${sql}\n`);
            assert.strictEqual(report.ok, false);
            assert.ok(breakingRules(report).includes(expected), JSON.stringify(report.violations));
        });
    }

    it("reports the line of the breaking statement in a longer file", async () => {
        const report = await lintOne(
            "-- expand and contract in one go (wrong)\nALTER TABLE patients ADD COLUMN mobile text;\n\nALTER TABLE patients DROP COLUMN phone;\n",
        );
        assert.deepStrictEqual(breakingRules(report), ["4:ban-drop-column"]);
    });

    it("accepts backward-compatible changes (nullable or defaulted columns, new tables and indexes)", async () => {
        const report = await lintOne(
            "ALTER TABLE patients ADD COLUMN mobile text;\nALTER TABLE patients ADD COLUMN consent boolean NOT NULL DEFAULT false;\nCREATE TABLE referrals (id bigint PRIMARY KEY, note text);\nCREATE INDEX referrals_note_idx ON referrals (note);\n",
        );
        assert.deepStrictEqual([report.ok, breakingRules(report)], [true, []]);
    });

    it("honors -- physioflow:allow-breaking <reason>", async () => {
        const report = await lintOne(
            "-- physioflow:allow-breaking phone moved to contacts in 014, unused since v1.3\nALTER TABLE patients DROP COLUMN phone;\n",
        );
        assert.deepStrictEqual(
            [report.ok, report.allowedBecause, breakingRules(report)],
            [true, "phone moved to contacts in 014, unused since v1.3", ["2:ban-drop-column"]],
        );
    });

    it("leaves squawk's timeout rules to the runner, which sets lock_timeout and statement_timeout before every file", async () => {
        const dir = writeMigrationDir({ "001_change.sql": "ALTER TABLE patients ADD COLUMN mobile text;\n", "rollback/001_down.sql": "SELECT 1;" });
        const set = await loadMigrationSet(dir);
        // squawk itself (2.61) asks for the SETs under these names; a renamed rule would show up here.
        const raw = await runSquawk([set.migrations[0].path], true);
        assert.deepStrictEqual(raw.map(f => f.rule).sort(), Object.keys(RUNNER_HANDLED_RULES).sort());
        const [report] = await lintMigrationFiles(set.migrations);
        assert.deepStrictEqual([report.ok, report.violations], [true, []]);
    });
});
