/**
 * One Kubernetes control plane per mocha worker, shared by the engine suites that run in it
 * (mocha runs test files in a few worker processes, one file after another in each). Starting a
 * control plane costs seconds of both cores; each suite used to start its own.
 *
 * Suites stay apart on it: each works in a namespace of its own (`physioflow-<stack name>`),
 * scopes its kwok Stages to that namespace (devenv/clusterFaults.ts), and deletes the namespace
 * when it ends. The control plane stops when the worker exits; should the worker be killed, the
 * watchdog scripts/cluster.sh leaves beside it stops it and deletes its folder.
 */
import { Cluster, startCluster } from "../../devenv/cluster";

let shared: Promise<Cluster> | undefined;

/** This worker's control plane, started (and built when missing) by the first suite that asks. */
export function sharedCluster(): Promise<Cluster> {
    // A failed start is kept: every suite of this worker then fails with the same one line.
    shared ??= startCluster({ progress: line => process.stderr.write(`cluster: ${line}\n`) });
    return shared;
}

/** The namespace a suite whose test stack is `stackName` works in on the shared control plane. */
export function suiteNamespace(stackName: string): string {
    return `physioflow-${stackName}`;
}

/** Deletes a suite's namespace without waiting for its pods to go: nothing of it is read again. */
export async function removeSuiteNamespace(cluster: Cluster | undefined, namespace: string): Promise<void> {
    await cluster?.kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"]);
}
