/**
 * A `physioflow rollback --restore` in a process of its own, on a test stack and database, for
 * tests that signal it (SIGINT, SIGTERM) as an operator's Ctrl-C or a stopped runner would.
 * Argument: JSON { stack: ClusterStackDirs, kubectl, kubeconfig, namespace, database: ReleaseDatabase,
 * archive, color, scaleDownTimeoutMs }. Prints each line of the restore on stdout, then `result: <json>`.
 */
import * as path from "path";
import { clusterProgram, openClusterStack } from "../../local/clusterStack";
import { kubectlFor } from "../../devenv/cluster";
import { findEngine } from "../../devenv/engine";
import { restoreRollback } from "../../release/restoreRollback";

async function main(): Promise<void> {
    const args = JSON.parse(process.argv[2]);
    const engine = await findEngine(() => undefined);
    const stack = await openClusterStack({ engine, ...args.stack });
    stack.workspace.program = clusterProgram();
    const kubectl = kubectlFor(path.dirname(args.kubectl), args.kubeconfig);
    const result = await restoreRollback({ stack, kubectl, namespace: args.namespace, database: args.database }, args.archive, {
        color: args.color,
        scaleDownTimeoutMs: args.scaleDownTimeoutMs,
        out: line => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`result: ${JSON.stringify(result)}\n`);
}

main().catch(error => {
    process.stdout.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
});
