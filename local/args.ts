/** Command line of `npm run local` (scripts/local.ts). Pure. */
import { UsageError } from "../database/errors";

export interface LocalArgs {
    /** `--set key=value`, in order, as written. */
    sets: string[];
    /** `--reset`: delete `.local/` and stop. */
    reset: boolean;
    /** False with `--no-node`: kwok plays the pods instead of a real node. */
    node: boolean;
    /** `--verbose`: stack traces on errors. */
    verbose: boolean;
    help: boolean;
}

export const localUsage = [
    "usage: npm run local [-- --set key=value ...] [--no-node] [--verbose]",
    "       npm run local -- --reset",
    "",
    "Runs the program for real on this machine: a `local` stack on a file backend in .local/, a",
    "PostgreSQL and a Kubernetes control plane it starts and stops (data kept in .local/postgres and",
    ".local/cluster), and a real node beside it (kubelet, containerd; started and stopped each run)",
    "where the apps' pods run. Prints the database steps, the engine's preview, the rollout as the",
    "API server reports it, the result, the live API answering from inside the node, and the",
    "traffic figures of an update (with a timeline picture in .local/traffic/).",
    "",
    "  --set key=value   change a physioflow: setting before the run, e.g. --set activeColor=green",
    "                    (repeatable; the change is kept, like pulumi config set)",
    "  --no-node         no real node: kwok plays the pods (for a machine where a node cannot run,",
    "                    e.g. without root); nothing serves and nothing is measured",
    "  --reset           delete .local/ (stack, database, cluster, backups) and stop",
    "  --verbose         print a stack trace with an error",
    "",
    "See docs/local.md.",
].join("\n");

/** Parses the arguments after `npm run local --`. */
export function parseLocalArgs(argv: readonly string[]): LocalArgs {
    const args: LocalArgs = { sets: [], reset: false, node: true, verbose: false, help: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--set") {
            const value = argv[++i];
            if (value === undefined) throw new UsageError("--set needs key=value, e.g. --set activeColor=green");
            args.sets.push(value);
        } else if (arg.startsWith("--set=")) {
            args.sets.push(arg.slice("--set=".length));
        } else if (arg === "--reset") {
            args.reset = true;
        } else if (arg === "--no-node") {
            args.node = false;
        } else if (arg === "--verbose" || arg === "-v") {
            args.verbose = true;
        } else if (arg === "--help" || arg === "-h") {
            args.help = true;
        } else {
            throw new UsageError(`unknown argument "${arg}"; npm run local -- --help lists the options`);
        }
    }
    if (args.reset && (args.sets.length > 0 || !args.node)) {
        throw new UsageError("--reset deletes .local/ and does nothing else; run it on its own, then npm run local -- --set ...");
    }
    return args;
}
