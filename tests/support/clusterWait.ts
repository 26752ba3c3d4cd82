/**
 * Waiting in the tests for the cluster to show what they expect: a Service fully moved to a color,
 * read through release/clusterState.ts (whose servesOnly the emergency rollback waits on too).
 */
import { Color } from "../../components/colors";
import { ClusterState, describeClusterState, Kubectl, readClusterState, servesOnly } from "../../release/clusterState";

/**
 * True when the Service selects `color` and its endpoints hold exactly `replicas` ready pods, all
 * of that color: traffic has fully moved.
 */
export function serviceServes(state: ClusterState, service: string, color: Color, replicas: number): boolean {
    const s = state.services[service];
    if (replicas > 0) return servesOnly(state, color, [service]) && s.readyPods.length === replicas;
    return s !== undefined && s.selector.version === color && s.readyPods.length === 0;
}

/**
 * Reads the state until `done(state)` holds (the controllers settle within a second or two after
 * an update), or throws after `timeoutMs` with the last state described.
 */
export async function waitForClusterState(
    kubectl: Kubectl,
    namespace: string,
    done: (state: ClusterState) => boolean,
    { timeoutMs = 30_000, what = "the expected state" } = {},
): Promise<ClusterState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const state = await readClusterState(kubectl, namespace);
        if (done(state)) return state;
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; the cluster shows: ${describeClusterState(state).join("; ")}`);
        }
        await new Promise(resolve => setTimeout(resolve, 500));
    }
}
