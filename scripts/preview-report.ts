// `npm run preview:report -- <stack>...`: the pull-request preview report as Markdown (README, "Pull requests").
import * as path from "path";
import { exitCodeOf, messageOnOneLine } from "../database/errors";
import { previewReportCommand } from "../release/previewReportCommand";

const repoRoot = path.resolve(__dirname, "..");

async function main(argv: string[]): Promise<number> {
    try {
        return await previewReportCommand(argv, {
            stdout: process.stdout,
            stderr: process.stderr,
            repoRoot,
            // Loaded only for the local stack: its pieces (engine lookup, control plane) are not needed otherwise.
            openLocalTarget: async (root, out) => (await import("../local/releaseTarget")).openLocalReleaseTarget(root, out),
        });
    } catch (error) {
        process.stderr.write(`preview:report: error: ${messageOnOneLine(error)}\n`);
        if ((argv.includes("--verbose") || argv.includes("-v")) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
        return exitCodeOf(error);
    }
}

// main answers every error with an exit code; the rejection handler is for a failure in that answer itself.
main(process.argv.slice(2)).then(
    code => {
        process.exitCode = code;
    },
    error => {
        process.stderr.write(`preview:report: error: ${messageOnOneLine(error)}\n`);
        process.exitCode = 1;
    },
);
