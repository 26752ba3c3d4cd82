/**
 * Why a smoke Job failed, as its pod tells it: the script's `FAIL …` lines (components/smokeChecks.ts),
 * which kubelet keeps in the pod's status as the container's termination message (the Job's
 * `terminationMessagePolicy: FallbackToLogsOnError`: the log's tail when the container fails). Read
 * through the API server alone, where the node's log (`kubectl logs`) may not be reachable, so a
 * deploy whose release or switch a smoke test stopped says which check failed and why (e.g. the
 * `NEXT_PUBLIC_API_URL` a web image for another environment has baked in).
 */
import { kubectlGet } from "../devenv/kubectl";
import { Kubectl } from "./clusterState";
import type { Job, List, Pod } from "./kubernetesObjects";

/** The `FAIL …` lines of these pods' containers' termination messages, each once, in order. Pure. */
export function smokeFailureLines(pods: readonly Pod[]): string[] {
    const lines = pods.flatMap(pod =>
        (pod.status?.containerStatuses ?? []).flatMap(status => (status.state?.terminated?.message ?? "").split("\n").map(line => line.trim())),
    );
    return [...new Set(lines.filter(line => /^FAIL /.test(line)))];
}

/**
 * The `FAIL …` lines of the Job `name`'s own pods (not an earlier Job's of the same name): empty
 * when it has none, when its pods say nothing (a node that keeps no termination message) or when
 * it cannot be read. Never throws: it only adds to an error being reported.
 */
export async function readSmokeFailures(kubectl: Kubectl, namespace: string, name: string): Promise<string[]> {
    try {
        const job = await kubectlGet<Job>(kubectl, ["job", name, "-n", namespace, "--request-timeout=5s"]);
        if (job.metadata.uid === undefined) return [];
        const pods = await kubectlGet<List<Pod>>(kubectl, [
            "pods",
            "-n",
            namespace,
            "-l",
            `batch.kubernetes.io/controller-uid=${job.metadata.uid}`,
            "--request-timeout=5s",
        ]);
        return smokeFailureLines(pods.items);
    } catch {
        return [];
    }
}
