import * as assert from "assert";
import { UsageError } from "../../database/errors";
import { MigrationSet } from "../../database/migrations/load";
import { describeStep, parseVersionArgument, planDown, planUp, versionAfter } from "../../database/migrations/plan";
import { AppliedMigration } from "../../database/migrations/validate";
import { appliedRows, migrationSet, threeMigrations } from "./fixtures";

describe("migration plans", () => {
    // Built in beforeEach, not when the file loads: StrykerJS counts code run at load time (or in a
    // before hook) as "static" and restarts its test process for every change to it.
    let set: MigrationSet;
    beforeEach(() => {
        set = migrationSet({
            ...threeMigrations(),
            "004_index.sql": "-- physioflow:no-transaction\nCREATE INDEX CONCURRENTLY i ON patients (phone);",
            "rollback/004_down.sql": "DROP INDEX i;",
        });
    });

    it("plans every pending migration oldest first", () => {
        const steps = planUp(set, appliedRows(set, ["001"]));
        assert.deepStrictEqual(
            steps.map(s => s.version),
            ["002", "003", "004"],
        );
        assert.strictEqual(versionAfter(steps, appliedRows(set, ["001"])), "004");
    });

    it("stops at --to", () => {
        assert.deepStrictEqual(
            planUp(set, [], "002").map(s => s.version),
            ["001", "002"],
        );
        assert.deepStrictEqual(planUp(set, appliedRows(set, ["001", "002"]), "002"), []);
    });

    it("refuses an up target below the head or without a file", () => {
        assert.throws(
            () => planUp(set, appliedRows(set, ["001", "002", "003"]), "002"),
            (e: Error) => e instanceof UsageError && e.message === '--to 002 is below the current version 003; use "migrate down --to 002" to go back',
        );
        assert.throws(
            () => planUp(set, [], "007"),
            (e: Error) => e instanceof UsageError && e.message === "--to 007: there is no migration 007_*.sql in migrations (newest is 004)",
        );
    });

    it("plans down scripts newest first to the target", () => {
        const applied = appliedRows(set, ["001", "002", "003"]);
        const steps = planDown(set, applied, "001");
        assert.deepStrictEqual(
            steps.map(s => [s.version, s.rollback.path]),
            [
                ["003", "migrations/rollback/003_down.sql"],
                ["002", "migrations/rollback/002_down.sql"],
            ],
        );
        assert.strictEqual(versionAfter(steps, applied), "001");
        assert.strictEqual(versionAfter(planDown(set, applied, "000"), applied), "000");
        assert.deepStrictEqual(planDown(set, applied, "003"), []);
    });

    it("refuses a down target above the head", () => {
        assert.throws(() => planDown(set, appliedRows(set, ["001"]), "003"), /--to 003 is above the current version 001/);
    });

    it("describes steps for --dry-run, including the transaction mode", () => {
        const [up] = planUp(set, appliedRows(set, ["001", "002", "003"]));
        assert.strictEqual(describeStep(up), "apply migrations/004_index.sql WITHOUT a transaction (no-transaction)");
        const [down] = planDown(set, appliedRows(set, ["001"]), "000");
        assert.strictEqual(describeStep(down), "revert 001 (patients) with migrations/rollback/001_down.sql in a transaction");
    });

    it("accepts only three-digit versions on the command line", () => {
        assert.strictEqual(parseVersionArgument("005"), "005");
        for (const bad of ["5", "0005", "abc", "05a", ""]) {
            assert.throws(() => parseVersionArgument(bad), UsageError, bad);
        }
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
        const gone: AppliedMigration[] = [
            ...appliedRows(set, ["001", "002", "003"]),
            { version: "004", name: "gone", checksum: null, appliedAt: null, executionMs: null },
        ];
        assert.deepStrictEqual(planUp(set, gone, "004"), []);
    });

    it("without a target, plans up to the newest file whatever the order of the set", () => {
        const reversed = { ...set, migrations: [...set.migrations].reverse() };
        assert.deepStrictEqual(
            planUp(reversed, appliedRows(set, ["001"])).map(s => s.version),
            ["003", "002"],
        );
        assert.deepStrictEqual(planUp({ ...set, migrations: [] }, []), []);
    });

    it("refuses to go down past a migration without a down script, naming the missing file", () => {
        const withoutRollback = { ...set, rollbacks: set.rollbacks.filter(r => r.version !== "003") };
        assert.throws(
            () => planDown(withoutRollback, appliedRows(set, ["001", "002", "003"]), "001"),
            (e: Error) => e instanceof UsageError && e.message === "cannot go down past 003: migrations/rollback/003_down.sql is missing",
        );
        assert.throws(
            () => planDown(set, appliedRows(set, ["001"]), "002"),
            (e: Error) => e instanceof UsageError && e.message === '--to 002 is above the current version 001; use "migrate up --to 002" to go forward',
        );
    });

    it("describes a down step without a recorded name, and one without a transaction", () => {
        const applied: AppliedMigration[] = [
            { version: "001", name: null, checksum: null, appliedAt: null, executionMs: null },
            { version: "002", name: "therapists", checksum: null, appliedAt: null, executionMs: null },
        ];
        const steps = planDown(set, applied, "000");
        assert.deepStrictEqual(
            steps.map(s => [s.version, s.name]),
            [
                ["002", "therapists"],
                ["001", ""],
            ],
        );
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
        assert.throws(
            () => parseVersionArgument("5", "--from"),
            (e: Error) => e instanceof UsageError && e.message === '--from must be a three-digit migration number such as 005, got "5"',
        );
        assert.throws(
            () => parseVersionArgument("5"),
            (e: Error) => e.message === '--to must be a three-digit migration number such as 005, got "5"',
        );
    });
});
