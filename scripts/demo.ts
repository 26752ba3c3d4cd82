// `npm run demo [-- --no-node]`: a whole release cycle on a control plane and a real node of its own (local/demo.ts).
import * as path from "path";
import { messageOnOneLine } from "../database/errors";
import { runDemo } from "../local/demo";

const repoRoot = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const unknown = args.find(arg => arg !== "--no-node");
if (unknown !== undefined) {
    process.stderr.write(`demo: error: unknown argument "${unknown}"; the only option is --no-node (kwok plays the pods, nothing is measured)\n`);
    process.exit(2);
}
runDemo(repoRoot, { node: !args.includes("--no-node"), out: line => process.stdout.write(`${line}\n`) }).then(
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
