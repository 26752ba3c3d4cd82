/**
 * A `physioflow deploy` in a process of its own, on a test stack, for tests that kill it outright
 * (SIGKILL to its process group, the Pulumi CLI included) the way a lost SSH session or a crashed
 * runner would. Argument: JSON { stack: ClusterStackDirs, kubectl, kubeconfig, namespace, tag, watchSeconds }.
 * Prints each line of the deploy on stdout, then `result: <JSON>`; exits 1 when the result is not ok.
 */
import * as path from "path";
import { clusterProgram, openClusterStack } from "../../local/clusterStack";
import { kubectlFor } from "../../devenv/cluster";
import { findEngine } from "../../devenv/engine";
import { deploy } from "../../release/deploy";

async function main(): Promise<void> {
    const args = JSON.parse(process.argv[2]);
    const engine = await findEngine(() => undefined);
    const stack = await openClusterStack({ engine, ...args.stack });
    stack.workspace.program = clusterProgram();
    const kubectl = kubectlFor(path.dirname(args.kubectl), args.kubeconfig);
    const result = await deploy({ stack, kubectl, namespace: args.namespace }, args.tag, {
        watch: { seconds: args.watchSeconds, intervalMs: 1000 },
        out: line => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`result: ${JSON.stringify(result)}\n`);
    process.exitCode = result.ok ? 0 : 1; // as physioflow deploy
}

main().catch(error => {
    process.stdout.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
});
