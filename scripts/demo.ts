// `npm run demo`: a whole release cycle on a control plane of its own (local/demo.ts).
import * as path from "path";
import { messageOnOneLine } from "../database/errors";
import { runDemo } from "../local/demo";

const repoRoot = path.resolve(__dirname, "..");
runDemo(repoRoot, { out: line => process.stdout.write(`${line}\n`) }).then(
    () => {
        process.exitCode = 0;
    },
    error => {
        process.stderr.write(`demo: error: ${messageOnOneLine(error)}\n`);
        process.exitCode = 1;
    },
);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
