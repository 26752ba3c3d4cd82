/**
 * The failures tests/support/clusterFaults.ts injects, played by kwok on a real control plane and read
 * back through the API server: what the watch after a switch will see.
 */
import * as assert from "assert";
import { Cluster } from "../../devenv/cluster";
import { crashLoopStage } from "../support/clusterFaults";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

const namespace = suiteNamespace("faults");
/** A namespace beside it whose pods carry the same labels: a Stage must leave them alone. */
const otherNamespace = `${namespace}-other`;

/** A Deployment of `replicas` pods labelled `app: name` in `ns` (kwok plays them; no image is pulled). */
function deployment(name: string, replicas: number, ns = namespace): string {
    const labels = { app: name };
    return JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: ns },
        spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    containers: [
                        { name: "app", image: "example.invalid/app:1" },
                        { name: "sidecar", image: "example.invalid/sidecar:1" },
                    ],
                },
            },
        },
    });
}

/** Waits until `check` holds of the pods labelled `app: name` in `ns`, or fails with the last state seen. */
async function waitForPods(cluster: Cluster, name: string, what: string, check: (pods: any[]) => boolean, timeoutMs = 60_000, ns = namespace): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const pods = (await cluster.getJson(["pods", "-n", ns, "-l", `app=${name}`])).items as any[];
        if (check(pods)) return pods;
        if (Date.now() > deadline) assert.fail(`${what} not seen within ${timeoutMs} ms; pods: ${JSON.stringify(pods.map(p => p.status))}`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
}

const ready = (pod: any) => pod.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
const restarts = (pod: any) => ((pod.status?.containerStatuses ?? []) as any[]).map(c => c.restartCount as number);

describe("cluster faults on a real control plane (kwok Stages)", function () {
    let cluster: Cluster;

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        cluster = await sharedCluster();
        await cluster.kubectl(["create", "namespace", namespace]);
        await cluster.kubectl(["create", "namespace", otherNamespace]);
    });
    after(async () => {
        await removeSuiteNamespace(cluster, namespace);
        await removeSuiteNamespace(cluster, otherNamespace);
    });

    it("crashLoopStage: ready pods start crash-looping on their next change; restartCount keeps rising, not ready, CrashLoopBackOff", async function () {
        this.timeout(2 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], deployment("crashy", 2));
        await cluster.kubectl(["apply", "-f", "-"], deployment("steady", 1));
        await cluster.kubectl(["apply", "-f", "-"], deployment("crashy", 1, otherNamespace));
        await waitForPods(cluster, "crashy", "2 ready pods", pods => pods.length === 2 && pods.every(ready));
        await waitForPods(cluster, "steady", "1 ready pod", pods => pods.length === 1 && pods.every(ready));
        await waitForPods(cluster, "crashy", "1 ready pod", pods => pods.length === 1 && pods.every(ready), 60_000, otherNamespace);

        await cluster.kubectl(["apply", "-f", "-"], crashLoopStage("test-crash-loop", namespace, { app: "crashy" }, { intervalMs: 500 }));
        // Nothing changes until the pods do: kwok plays a Stage on a pod's next change.
        await cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "app=crashy", "physioflow-test/crash=true"]);

        const first = await waitForPods(cluster, "crashy", "a first restart", pods => pods.every(pod => restarts(pod).every(n => n >= 1)));
        const started = Date.now();
        // It repeats by itself, with no further change from us.
        const later = await waitForPods(cluster, "crashy", "restartCount rising to 4", pods => pods.every(pod => restarts(pod).every(n => n >= 4)));
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < 10, `3 more restarts took ${seconds} s at a 500 ms interval`);
        assert.deepStrictEqual(first.map(pod => pod.metadata.name).sort(), later.map(pod => pod.metadata.name).sort(), "the same pods, not replaced ones");
        for (const pod of later) {
            assert.strictEqual(pod.status.phase, "Running");
            assert.strictEqual(ready(pod), false, `${pod.metadata.name} is ready`);
            for (const container of pod.status.containerStatuses) {
                assert.strictEqual(container.ready, false);
                assert.strictEqual(container.state.waiting?.reason, "CrashLoopBackOff", JSON.stringify(container));
                assert.strictEqual(container.lastState.terminated?.exitCode, 1, JSON.stringify(container));
                assert.strictEqual(container.lastState.terminated?.reason, "Error");
            }
            assert.deepStrictEqual(
                pod.status.containerStatuses.map((c: any) => c.name),
                ["app", "sidecar"],
            );
        }
        const deployment_ = await cluster.getJson(["deployment", "crashy", "-n", namespace]);
        assert.ok(!deployment_.status.readyReplicas, `readyReplicas ${deployment_.status.readyReplicas}`);

        // The Stage selects by label and namespace: the other Deployment's pod, and the pod with the
        // same label in another namespace, stay ready with no restart.
        await cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "app=steady", "physioflow-test/crash=true"]);
        await cluster.kubectl(["annotate", "pods", "-n", otherNamespace, "-l", "app=crashy", "physioflow-test/crash=true"]);
        await new Promise(resolve => setTimeout(resolve, 1500));
        const [steady] = await waitForPods(cluster, "steady", "1 pod", pods => pods.length === 1);
        assert.strictEqual(ready(steady), true);
        assert.deepStrictEqual(restarts(steady), [0, 0]);
        const [elsewhere] = await waitForPods(cluster, "crashy", "1 pod", pods => pods.length === 1, 60_000, otherNamespace);
        assert.strictEqual(ready(elsewhere), true, "a pod with the Stage's labels in another namespace was taken");
        assert.deepStrictEqual(restarts(elsewhere), [0, 0]);

        // Deleting the Stage stops the loop: the count stays where it is.
        await cluster.kubectl(["delete", "stage", "test-crash-loop"]);
        await new Promise(resolve => setTimeout(resolve, 1000));
        const stopped = (await cluster.getJson(["pods", "-n", namespace, "-l", "app=crashy"])).items as any[];
        await new Promise(resolve => setTimeout(resolve, 1500));
        const after = (await cluster.getJson(["pods", "-n", namespace, "-l", "app=crashy"])).items as any[];
        assert.deepStrictEqual(after.map(restarts), stopped.map(restarts));
    });
});
