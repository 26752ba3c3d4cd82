/**
 * The failures only tests inject on the simulated cluster (kwok Stages built with
 * devenv/clusterFaults.ts's `podStage`, beside the one the demo injects there; an admission policy
 * that refuses a change), on a release command's own client (a kubectl that stops reading), and a
 * sampler of what the live Service serves while they happen.
 */
import { spawn } from "child_process";
import * as path from "path";
import * as readline from "readline";
import { Cluster } from "../../devenv/cluster";
import type { Kubectl } from "../../release/clusterState";
import { podStage, runningPodStatus } from "../../devenv/clusterFaults";
import { watchEndpoints } from "../../bench/endpointWatch";

/** One state of a Service's EndpointSlices: how many ready endpoints, of which colors. */
export interface EndpointSample {
    at: number;
    ready: number;
    colors: string[];
}

/**
 * Records every state of `service`'s EndpointSlices the API server reports (its watch stream:
 * bench/endpointWatch.ts), from now until `stop()`, which resolves to them: proof of what the live
 * Service served during an update, not just after it. A watch sees each change as it happens; a
 * poll in a loop would miss a short one and cost a kubectl process per look.
 */
export async function sampleReadyEndpoints(cluster: Cluster, namespace: string, service: string): Promise<{ stop(): Promise<EndpointSample[]> }> {
    const samples: EndpointSample[] = [];
    const watch = await watchEndpoints(cluster.kubeconfigPath, namespace, service, (ready, at) => {
        samples.push({ at, ready: ready.size, colors: [...new Set(ready.values())].sort() });
    });
    if (samples.length === 0) throw new Error(`the watch of ${service}'s EndpointSlices in ${namespace} reported no state`);
    return {
        stop: async () => {
            watch.close();
            return samples;
        },
    };
}

/**
 * One `kubectl get ARGS --watch --output-watch-events -o jsonpath=TEMPLATE` against `cluster`: each
 * line it prints goes to `onLine` (the objects as they are first, as `ADDED` events, then every
 * change the API server reports). One process for the whole time, where a loop of reads would start
 * a kubectl process every look and could miss a short change. `stop()` ends it, and fails when it
 * had ended by itself (a watch that died saw nothing after it).
 */
function watchLines(cluster: Cluster, args: readonly string[], template: string, onLine: (line: string) => void) {
    const child = spawn(
        path.join(cluster.binDir, "kubectl"),
        ["--kubeconfig", cluster.kubeconfigPath, "get", ...args, "--watch", "--output-watch-events", "-o", `jsonpath=${template}`],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", chunk => (stderr += String(chunk)));
    const exited = new Promise<void>(resolve => child.on("exit", () => resolve()));
    readline.createInterface({ input: child.stdout }).on("line", onLine);
    const what = `the watch of ${args.join(" ")}`;
    const ended = exited.then(() => {
        throw new Error(`${what} ended: ${stderr.trim()}`);
    });
    ended.catch(() => undefined); // read by stop(); a caller may race it too
    return {
        /** Rejects when the watch ends (by itself, or by `stop()`). */
        ended,
        stop: async () => {
            if (child.exitCode !== null) throw new Error(`${what} ended early: ${stderr.trim()}`);
            child.kill();
            await exited;
        },
    };
}

/**
 * Records the selector `version` of the Services `names` in `namespace` (joined `api/web`, in the
 * order given) at every change the API server reports, from now until `stop()`, which resolves to
 * the distinct readings ({@link watchLines}: a short move is never missed). `until(reading)`
 * resolves at the first reading (from now) that is `reading`.
 */
export async function sampleServiceSelectors(
    cluster: Cluster,
    namespace: string,
    names: readonly string[],
): Promise<{ stop(): Promise<string[]>; until(reading: string): Promise<void> }> {
    const current = new Map<string, string>();
    const seen = new Set<string>();
    let waiters: { reading: string; resolve: () => void }[] = [];
    let first: () => void;
    const started = new Promise<void>(resolve => (first = resolve));
    const watch = watchLines(cluster, ["services", "-n", namespace], '{.object.metadata.name}={.object.spec.selector.version}{"\\n"}', line => {
        const at = line.indexOf("=");
        current.set(line.slice(0, at), line.slice(at + 1));
        if (names.every(name => current.has(name))) {
            const reading = names.map(name => current.get(name)).join("/");
            seen.add(reading);
            waiters = waiters.filter(waiter => (waiter.reading === reading ? (waiter.resolve(), false) : true));
            first();
        }
    });
    await Promise.race([started, watch.ended]).catch((error: Error) => {
        throw new Error(`${error.message} before it showed ${names.join(", ")} in ${namespace}`);
    });
    return {
        until: reading => new Promise<void>(resolve => waiters.push({ reading, resolve })),
        stop: async () => {
            await watch.stop();
            return [...seen];
        },
    };
}

/** A pod as {@link watchPods} keeps it: its address (once it has one) and its color label. */
export interface WatchedPod {
    podIP: string;
    color: string;
}

/**
 * The pods of `namespace` with the labels `selector` (e.g. `app=physioflow-api`), kept up to date
 * from the API server's watch ({@link watchLines}): `pods()` reads the current set without a
 * kubectl run. Resolves after a second, by when kubectl has listed the pods there are.
 */
export async function watchPods(cluster: Cluster, namespace: string, selector: string): Promise<{ pods(): Map<string, WatchedPod>; stop(): Promise<void> }> {
    const pods = new Map<string, WatchedPod>();
    const template = '{.type} {.object.metadata.name} {.object.status.podIP} {.object.metadata.labels.version}{"\\n"}';
    const watch = watchLines(cluster, ["pods", "-n", namespace, "-l", selector], template, line => {
        const [type, name, podIP, color] = line.split(" ");
        if (type === "DELETED") pods.delete(name);
        else pods.set(name, { podIP, color });
    });
    // The list comes first: once kubectl has printed it (or there is nothing to list) the set is current.
    await Promise.race([new Promise(resolve => setTimeout(resolve, 1000)), watch.ended]);
    return { pods: () => pods, stop: () => watch.stop() };
}

/**
 * A kwok Stage that makes the new pods with `labels` in `namespace` Running and Ready only `delayMs`
 * after they are created (an app that is slow to start): an update that rolls them out is still
 * running for at least that long, a window a test can act in without racing the update's end.
 */
export function slowReadyStage(name: string, namespace: string, labels: Record<string, string>, delayMs: number): string {
    return podStage(name, namespace, labels, ["Pending"], runningPodStatus(true), delayMs);
}

/**
 * A kwok Stage that ends the pods with `labels` in `namespace` as Failed (their container exited 1): a smoke
 * test Job whose checks fail. Without it kwok completes every Job's pods successfully.
 */
export function failingPodStage(name: string, namespace: string, labels: Record<string, string>): string {
    return podStage(
        name,
        namespace,
        labels,
        ["Pending", "Running"],
        [
            "{{ $now := Now }}",
            "conditions:",
            '- { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }',
            '- { type: Ready, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }} }',
            "containerStatuses:",
            "{{ range .spec.containers }}",
            "- { image: {{ .image | Quote }}, name: {{ .name | Quote }}, ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: Error, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } } }",
            "{{ end }}",
            "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}",
            "phase: Failed",
            "startTime: {{ $now | Quote }}",
        ],
    );
}

/**
 * A kwok Stage that crash-loops the Running pods with `labels` in `namespace`: every `intervalMs` (default
 * 1000) each container's `restartCount` goes up by one, its last state is a terminated exit 1
 * and it waits in `CrashLoopBackOff`, the pod not Ready. Like the other Stages it starts on the
 * pod's next change (annotate it). It then keeps going by itself: its own update still matches
 * its selector, so kwok plays it again after the delay, until the Stage or the pod is deleted.
 * (The kubelet backs off 10 s, 20 s… up to 5 minutes between restarts; a fixed interval keeps
 * the tests short.)
 */
export function crashLoopStage(name: string, namespace: string, labels: Record<string, string>, options: { intervalMs?: number } = {}): string {
    const stage = JSON.parse(
        podStage(
            name,
            namespace,
            labels,
            ["Running"],
            [
                "{{ $now := Now }}",
                "{{ $previous := or .status.containerStatuses list }}",
                "conditions:",
                '- { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }',
                '- { type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }} }',
                '- { type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }} }',
                "containerStatuses:",
                "{{ range $index, $container := .spec.containers }}",
                "{{ $restarts := 0 }}{{ if lt $index (len $previous) }}{{ $restarts = or (index $previous $index).restartCount 0 }}{{ end }}",
                "- image: {{ $container.image | Quote }}",
                "  name: {{ $container.name | Quote }}",
                "  ready: false",
                "  started: false",
                "  restartCount: {{ add1 $restarts }}",
                '  state: { waiting: { reason: CrashLoopBackOff, message: "back-off restarting failed container" } }',
                "  lastState: { terminated: { exitCode: 1, reason: Error, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } }",
                "{{ end }}",
                "phase: Running",
            ],
        ),
    );
    stage.spec.delay = { durationMilliseconds: options.intervalMs ?? 1000 };
    return JSON.stringify(stage);
}

/**
 * The release command's own kubectl, with a switch: while `failing` is set, every reading of the
 * namespace's pods and Services (`kubectl get` of anything but the deploy Lease and the release
 * record) fails as a kubectl that cannot reach the API server does. The cluster itself stays up:
 * the stack's updates (the engine's own client) and the Lease still work.
 */
export function flakyKubectl(kubectl: Kubectl): { kubectl: Kubectl; failing: boolean; failures: number } {
    const flaky = {
        failing: false,
        failures: 0,
        kubectl: async (args: readonly string[], input?: string) => {
            const reading = args[0] === "get" && !/^(lease|configmap)/.test(args[1] ?? "");
            if (flaky.failing && reading) {
                flaky.failures++;
                throw new Error(`kubectl ${args.join(" ")}: Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused`);
            }
            return kubectl(args, input);
        },
    };
    return flaky;
}

/**
 * A ValidatingAdmissionPolicy and its binding, both named `name`, that make the API server refuse
 * CREATE/UPDATE of `resource` (e.g. `services`, apps' `deployments`) in `namespace` when
 * `expression` (CEL over `object`) is false: a change the cluster refuses, as a team's policy or
 * a broken webhook would. Delete both with `kubectl delete validatingadmissionpolicybinding,validatingadmissionpolicy <name>`.
 */
export function refusingPolicy(name: string, namespace: string, resource: { group: string; resource: string }, expression: string, message: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
            {
                apiVersion: "admissionregistration.k8s.io/v1",
                kind: "ValidatingAdmissionPolicy",
                metadata: { name },
                spec: {
                    failurePolicy: "Fail",
                    matchConstraints: {
                        resourceRules: [{ apiGroups: [resource.group], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: [resource.resource] }],
                    },
                    validations: [{ expression, message }],
                },
            },
            {
                apiVersion: "admissionregistration.k8s.io/v1",
                kind: "ValidatingAdmissionPolicyBinding",
                metadata: { name },
                spec: {
                    policyName: name,
                    validationActions: ["Deny"],
                    matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
                },
            },
        ],
    });
}
