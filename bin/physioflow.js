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

require("ts-node").register({
    transpileOnly: true,
    project: path.join(__dirname, "..", "tsconfig.json"),
});

const argv = process.argv.slice(2);
// The `local` stack's target, for the release commands: loaded only for that stack (its engine lookup
// and control plane are not needed otherwise), and passed in because release/ does not import local/.
const openLocalTarget = (repoRoot, out) => require("../local/releaseTarget").openLocalReleaseTarget(repoRoot, out);
// `deploy`, `rollback`, `status`, `verify` and `import` are the release code's (release/cli.ts); everything else is the database CLI's.
const run = ["deploy", "rollback", "status", "verify", "import"].includes(argv[0]) ? () => require("../release/cli").releaseMain(argv, path.join(__dirname, ".."), { openLocalTarget }) : () => require("../database/cli/main").main(argv);

run().then(
    (code) => {
        process.exitCode = code;
    },
    (error) => {
        process.stderr.write(`physioflow: error: ${error && error.message ? error.message : error}\n`);
        process.exitCode = 1;
    },
);
