// `npm run local`: run the program for real on this machine (docs/local.md).
import * as path from "path";
import { ConfigError } from "../components/config";
import { exitCodeOf, messageOnOneLine } from "../database/errors";
import { localUsage, parseLocalArgs } from "../local/args";
import { resetLocal, runLocal } from "../local/run";

const repoRoot = path.resolve(__dirname, "..");
const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
    let verbose = argv.includes("--verbose") || argv.includes("-v");
    try {
        const args = parseLocalArgs(argv);
        verbose = args.verbose;
        if (args.help) {
            out(localUsage);
        } else if (args.reset) {
            await resetLocal(repoRoot, out);
        } else {
            await runLocal(repoRoot, args.sets, out, { node: args.node });
        }
        return 0;
    } catch (error) {
        process.stderr.write(`local: error: ${errorLine(error)}\n`);
        if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
        return error instanceof ConfigError ? 2 : exitCodeOf(error);
    }
}

/** One line: the engine's own error line when the engine failed, else the message folded. */
function errorLine(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    const engineError = text
        .split("\n")
        .map(line => line.trim())
        .find(line => line.startsWith("error: "));
    return engineError ? `pulumi: ${engineError.slice("error: ".length)}` : messageOnOneLine(error);
}

// Ctrl-C: exit through process.exit so the PostgreSQL this run started is stopped (its exit hook).
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
// main answers every error with an exit code; the rejection handler is for a failure in that answer itself.
main(process.argv.slice(2)).then(
    code => {
        process.exitCode = code;
    },
    error => {
        process.stderr.write(`local: error: ${messageOnOneLine(error)}\n`);
        process.exitCode = 1;
    },
);
