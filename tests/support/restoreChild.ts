/**
 * A `physioflow rollback --restore` in a process of its own, on a test stack and database, for
 * tests that signal it (SIGINT, SIGTERM) as an operator's Ctrl-C or a stopped runner would.
 * Argument: JSON { stack: ClusterStackDirs, kubectl, kubeconfig, namespace, database: ReleaseDatabase,
 * archive, color, scaleDownTimeoutMs }. Prints each line of the restore on stdout, then `result: <json>`.
 */
import { execFile } from "child_process";
import { clusterProgram, openClusterStack } from "../../local/clusterStack";
import { findEngine } from "../../devenv/engine";
import { restoreRollback } from "../../release/restoreRollback";

async function main(): Promise<void> {
    const args = JSON.parse(process.argv[2]);
    const engine = await findEngine(() => undefined);
    const stack = await openClusterStack({ engine, ...args.stack });
    stack.workspace.program = clusterProgram();
    const kubectl = (kubectlArgs: readonly string[], input?: string) =>
        new Promise<string>((resolve, reject) => {
            const child = execFile(
                args.kubectl,
                ["--kubeconfig", args.kubeconfig, ...kubectlArgs],
                { maxBuffer: 64 * 1024 * 1024 },
                (error, stdout, stderr) => {
                    if (error) reject(new Error(`kubectl ${kubectlArgs.join(" ")}: ${stderr.trim().split("\n").pop() || error.message}`));
                    else resolve(stdout);
                },
            );
            if (input !== undefined) child.stdin!.end(input);
        });
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
