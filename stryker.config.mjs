// @ts-check
/**
 * Mutation testing (StrykerJS), run by hand with `npm run test:mutation` — not part of `npm test` or
 * CI. Each part mutates part of a folder and runs only the tests that exercise it (the engine suites start
 * a control plane and take many minutes; they are never run here). The part comes from
 * STRYKER_PART, which the npm scripts set:
 *
 *   config      components/config.ts against the config suites (the program suite is not needed:
 *               the parsing is tested directly)
 *   program     components/ but config.ts against tests/program/
 *   rules       the release rules (each color's settings and password, the live color's guards:
 *               components/colorSettings.ts, colorCredentials.ts, releaseGuard.ts) against their
 *               own tests: minutes, where the program part takes about an hour
 *   migration-files  database/migrations/ files, load, plan, timeouts, validate against the suites
 *               that need no database (minutes)
 *   migrations  database/migrations/**\/*.ts against the tests/database/ suites that run the
 *               migration runner, its plan, validation and files (a real PostgreSQL, started once
 *               per test-runner process by tests/support/postgres.ts)
 */

const parts = {
    rules: {
        mutate: ["components/colorSettings.ts", "components/colorCredentials.ts", "components/releaseGuard.ts"],
        spec: ["tests/program/colorSettings.test.ts", "tests/program/smokeGate.test.ts", "tests/program/stacks.test.ts", "tests/program/migrationHold.test.ts"],
        thresholds: { high: 95, low: 90, break: 90 },
        tsconfigFile: "tsconfig.mutation-components.json",
        ignoreStatic: false,
    },
    config: {
        // The stack's settings: parsing and checking every key (module-level tables and patterns,
        // static mutants) against the config suites, seconds a run where the whole program suite
        // takes half a minute. components/ minus this file is the "program" part.
        mutate: ["components/config.ts"],
        spec: ["tests/program/config.test.ts", "tests/program/stackFiles.test.ts"],
        thresholds: { high: 95, low: 90, break: 90 },
        tsconfigFile: "tsconfig.mutation-components.json",
        ignoreStatic: false,
    },
    program: {
        // The Pulumi components, rules and helpers but config.ts, against the program suite. The
        // golden copies of the stacks run first: most changes to a component change some input,
        // and mocha stops at the first failure.
        mutate: ["components/**/*.ts", "!components/config.ts"],
        first: ["tests/program/golden.test.ts"],
        spec: ["tests/program/*.test.ts"],
        thresholds: { high: 95, low: 90, break: 90 },
        tsconfigFile: "tsconfig.mutation-components.json",
        ignoreStatic: false,
        // Not per test: the program is imported inside the first test that runs it, so per-test
        // coverage credits module-level constants (an annotation name, a label) to that one test
        // alone and runs only it; such a change then "survives" although the golden copies fail.
        coverageAnalysis: "all",
    },
    "migration-files": {
        // The pure half of database/migrations/ (reading a folder, headers, timeouts, plans,
        // validation) against the suites that need no database: minutes. A change only the runner's
        // database suites notice shows here as survived; the "migrations" part runs those too.
        mutate: ["database/migrations/{files,load,plan,timeouts,validate}.ts"],
        spec: ["tests/database/migrationFiles.test.ts", "tests/database/planMigrations.test.ts", "tests/database/validateMigrations.test.ts"],
        thresholds: { high: 90, low: 80, break: 80 },
        tsconfigFile: "tsconfig.mutation-migrations.json",
        ignoreStatic: false,
    },
    migrations: {
        mutate: ["database/migrations/**/*.ts"],
        // The pure suites first: a mutant they kill never reaches the slower database suites (mocha
        // bails on the first failure). The CLI suites that also migrate (migrateWithBackup,
        // downAndRestoreSafety) are left out: they run the same runner through pg_dump and
        // pg_restore (~10 s a run here) behind the CLI; migrateRunner drives the runner directly.
        spec: [
            "tests/database/migrationFiles.test.ts",
            "tests/database/planMigrations.test.ts",
            "tests/database/validateMigrations.test.ts",
            "tests/database/migrationBlockers.test.ts",
            "tests/database/lint.test.ts",
            "tests/database/migrateRunner.test.ts",
            "tests/database/seededMigrations.test.ts",
        ],
        thresholds: { high: 90, low: 80, break: 80 },
        tsconfigFile: "tsconfig.mutation-migrations.json",
        // Static mutants (module-level constants: the file-name and statement regexes, SQL texts) each
        // need a fresh test process, a fresh PostgreSQL and every test (~30 s each here): ignored.
        ignoreStatic: true,
    },
};

const partName = process.env.STRYKER_PART ?? "";
const part = parts[/** @type {keyof typeof parts} */ (partName)];
if (!part) {
    throw new Error(`STRYKER_PART must be one of ${Object.keys(parts).join(", ")} (got "${partName}"): use one of the npm run test:mutation:* scripts`);
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
    packageManager: "npm",
    testRunner: "mocha",
    mochaOptions: {
        // Not .mocharc.json: it runs every suite, in parallel workers Stryker cannot instrument.
        "no-config": true,
        require: ["ts-node/register/transpile-only"],
        extension: ["ts"],
        spec: part.spec,
        // mocha's --file runs these before the spec's files; ignore keeps them from running twice.
        ...("first" in part ? { file: part.first, ignore: part.first } : {}),
    },
    checkers: ["typescript"],
    tsconfigFile: part.tsconfigFile,
    mutate: part.mutate,
    coverageAnalysis: "coverageAnalysis" in part ? part.coverageAnalysis : "perTest",
    // Two cores, shared with other test runs.
    concurrency: 2,
    // The database suites talk to a real PostgreSQL: leave room for a busy machine.
    timeoutMS: 10000,
    thresholds: part.thresholds,
    ignoreStatic: part.ignoreStatic,
    reporters: ["clear-text", "html", "json", "progress"],
    htmlReporter: { fileName: `reports/mutation/${partName}.html` },
    jsonReporter: { fileName: `reports/mutation/${partName}.json` },
    // Kept between runs: a run after a change re-tests only the mutants the change can affect. Not
    // for static mutants (module-level constants such as the statement patterns): their earlier
    // result is reused even when new tests would kill them; after adding tests to a part that has
    // them (all but "migrations"), run it with --force.
    incremental: true,
    incrementalFile: `reports/mutation/${partName}-incremental.json`,
    clearTextReporter: { allowColor: false, logTests: false },
    ignorePatterns: [".local", "backups", "reports"],
    tempDirName: ".stryker-tmp",
    cleanTempDir: true,
};
