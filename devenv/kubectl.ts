/**
 * The one way this project runs kubectl: the release commands against a team's cluster (kubectl on
 * PATH, the stack's kubeconfig and context), and the control plane of devenv/cluster.ts (its own
 * kubectl and admin kubeconfig). Resolves to stdout; rejects with one line: `kubectl ARGS: <kubectl's
 * last error line>`.
 */
import { execFile } from "child_process";

export type Kubectl = (args: readonly string[], input?: string) => Promise<string>;

export interface KubectlOptions {
    /** The kubectl binary; default `kubectl` on PATH. */
    binary?: string;
    /** `--kubeconfig`; default kubectl's own (KUBECONFIG, ~/.kube/config). */
    kubeconfig?: string;
    /** `--context`; default the kubeconfig's current context. */
    context?: string;
}

export function kubectlCommand(options: KubectlOptions = {}): Kubectl {
    const base = [...(options.kubeconfig ? ["--kubeconfig", options.kubeconfig] : []), ...(options.context ? ["--context", options.context] : [])];
    return (args, input) =>
        new Promise<string>((resolve, reject) => {
            const child = execFile(options.binary ?? "kubectl", [...base, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
                if (error) reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim().split("\n").pop() || error.message}`));
                else resolve(stdout);
            });
            if (input !== undefined) child.stdin!.end(input);
        });
}

/**
 * `kubectl get ARGS -o json`, parsed as a `T` (e.g. one of release/kubernetesObjects.ts's objects,
 * or a list of them): the one place a document from the API server enters. Nothing checks its
 * shape: `T` says what the caller expects of the API.
 */
export async function kubectlGet<T>(kubectl: Kubectl, args: readonly string[]): Promise<T> {
    return JSON.parse(await kubectl(["get", ...args, "-o", "json"])) as T;
}
