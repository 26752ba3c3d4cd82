/**
 * A `physioflow deploy` in a process of its own, on a test stack, for tests that kill it outright
 * (SIGKILL to its process group, the Pulumi CLI included) the way a lost SSH session or a crashed
 * runner would. Argument: JSON { stack: ClusterStackDirs, kubectl, kubeconfig, namespace, tag, watchSeconds }.
 * Prints each line of the deploy on stdout, then `result: <JSON>`; exits 1 when the result is not ok.
 */
import { execFile } from "child_process";
import { clusterProgram, openClusterStack } from "../../local/clusterStack";
import { findEngine } from "../../devenv/engine";
import { deploy } from "../../release/deploy";

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
    const result = await deploy({ stack, kubectl, namespace: args.namespace }, args.tag, {
        watch: { seconds: args.watchSeconds, intervalMs: 300 },
        out: line => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`result: ${JSON.stringify(result)}\n`);
    process.exitCode = result.ok ? 0 : 1; // as physioflow deploy
}

main().catch(error => {
    process.stdout.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
});
