#!/usr/bin/env node
// Entry point of `npx physioflow` / `npm run physioflow --`: loads the TypeScript
// sources through ts-node (transpile only: no type check at run time).
"use strict";
const path = require("path");

// The AWS SDK warns on stderr that future releases need Node 22; the CLI promises
// one clear line on stderr, and the pinned SDK works on Node 20.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
}

// Not twice: the tests load this file in a process that already runs ts-node.
if (!process[Symbol.for("ts-node.register.instance")]) {
    require("ts-node").register({
        transpileOnly: true,
        project: path.join(__dirname, "..", "tsconfig.json"),
    });
}

// The `local` stack's target, for the release commands: loaded only for that stack (its engine lookup
// and control plane are not needed otherwise), and passed in because release/ does not import local/.
const openLocalTarget = (repoRoot, out) => require("../local/releaseTarget").openLocalReleaseTarget(repoRoot, out);

/**
 * Runs `physioflow <argv>` and resolves to its exit code. Which code runs a command comes from the
 * one command list (database/cli/commands.ts): the release commands go to release/cli.ts, the rest
 * (and anything unknown, which it refuses naming the commands) to the database CLI.
 * `streams` (stdout, stderr, stdin) replace the process's, for tests.
 */
function physioflow(argv, streams) {
    const { sideOf } = require("../database/cli/commands");
    if (sideOf(argv[0]) === "release") {
        return require("../release/cli").releaseMain(argv, path.join(__dirname, ".."), { openLocalTarget, ...streams });
    }
    return require("../database/cli/main").main(argv, streams && { ...streams, env: process.env });
}

module.exports = { physioflow };

if (require.main === module) {
    physioflow(process.argv.slice(2)).then(
        code => {
            process.exitCode = code;
        },
        error => {
            process.stderr.write(`physioflow: error: ${error && error.message ? error.message : error}\n`);
            process.exitCode = 1;
        },
    );
}
