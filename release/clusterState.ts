/**
 * What the cluster is actually doing, read back through the API server: each Service's selector
 * and the ready pods its EndpointSlices hold, each Deployment's image and replicas. The reading
 * is done by a `kubectl` the caller provides; the rest is pure and tested without a cluster.
 */
import { allAppNames } from "../components/appNames";
import { Color, colors, isColor } from "../components/colors";
import { Kubectl, kubectlGet } from "../devenv/kubectl";
import type { Deployment, EndpointSlice, Job, Pod, Service } from "./kubernetesObjects";

/** The live Services the release code moves (each has a `-preview` twin on the inactive color). */
export const liveServices = allAppNames;

/** Runs `kubectl ARGS` against the cluster and resolves to its stdout (devenv/kubectl.ts makes one). */
export type { Kubectl } from "../devenv/kubectl";

export interface ServiceState {
    /** The Service's selector, e.g. `{ app: "physioflow-api", version: "blue" }`. */
    selector: Record<string, string>;
    /** Names of the ready pods its EndpointSlices list, sorted. */
    readyPods: string[];
    /** The colors of those pods (from their `version` label), sorted and without repeats. */
    readyColors: Color[];
}

export interface DeploymentState {
    image: string;
    /** Desired replicas ({@link desiredReplicas}: `spec.replicas`, 1 when unset). */
    replicas: number;
    /** Pods ready (`status.readyReplicas`, 0 when absent). */
    readyReplicas: number;
    /** Pods of the latest pod template (`status.updatedReplicas`, 0 when absent). */
    updatedReplicas: number;
    /** Pods available, ready for `minReadySeconds` (`status.availableReplicas`, 0 when absent). */
    availableReplicas: number;
    /** `status.observedGeneration === metadata.generation`: the controller has seen the latest spec. */
    observed: boolean;
}

/** A Deployment's desired replicas: `spec.replicas`, or 1 when it is unset (Kubernetes' default), never 0. */
export function desiredReplicas(deployment: Pick<Deployment, "spec">): number {
    return deployment.spec.replicas ?? 1;
}

/** A Job (the smoke tests): what it tested and how it ended. */
export interface JobState {
    /** The `physioflow/tag` and `physioflow/migration-version` annotations of its pod template, when set. */
    tag?: string;
    migrationVersion?: string;
    status: "running" | "succeeded" | "failed";
}

export interface ClusterState {
    services: Record<string, ServiceState>;
    deployments: Record<string, DeploymentState>;
    jobs: Record<string, JobState>;
}

/**
 * Reads the Services, EndpointSlices, pods, Deployments and Jobs of `namespace` in one `kubectl get`
 * (one process and one consistent look; the watch and the waits call this several times a second).
 */
export async function readClusterState(kubectl: Kubectl, namespace: string): Promise<ClusterState> {
    const kinds = "services,endpointslices.discovery.k8s.io,pods,deployments.apps,jobs.batch";
    const { items } = await kubectlGet<{ items: Listed[] }>(kubectl, [kinds, "-n", namespace]);
    const of = <K extends Listed["kind"]>(kind: K) => items.filter((item): item is Extract<Listed, { kind: K }> => item.kind === kind);
    return clusterStateFrom({
        services: of("Service"),
        slices: of("EndpointSlice"),
        pods: of("Pod"),
        deployments: of("Deployment"),
        jobs: of("Job"),
    });
}

/** An item of the list {@link readClusterState} reads: its kind says which object it is. */
type Listed =
    | (Service & { kind: "Service" })
    | (EndpointSlice & { kind: "EndpointSlice" })
    | (Pod & { kind: "Pod" })
    | (Deployment & { kind: "Deployment" })
    | (Job & { kind: "Job" });

/** Pure: the state from the lists as the API returns them. */
export function clusterStateFrom(lists: { services: Service[]; slices: EndpointSlice[]; pods: Pod[]; deployments: Deployment[]; jobs?: Job[] }): ClusterState {
    const podColor = new Map<string, string | undefined>(lists.pods.map(p => [p.metadata.name, p.metadata.labels?.version]));
    const services: Record<string, ServiceState> = {};
    for (const service of lists.services) {
        const name = service.metadata.name;
        const readyPods = lists.slices
            .filter(slice => slice.metadata.labels?.["kubernetes.io/service-name"] === name)
            .flatMap(slice => slice.endpoints ?? [])
            .filter(endpoint => endpoint.conditions?.ready === true && endpoint.targetRef?.kind === "Pod")
            .map(endpoint => endpoint.targetRef!.name!)
            .sort();
        const readyColors = colors.filter(color => readyPods.some(pod => podColor.get(pod) === color));
        services[name] = { selector: service.spec.selector ?? {}, readyPods, readyColors };
    }
    const deployments: Record<string, DeploymentState> = {};
    for (const deployment of lists.deployments) {
        deployments[deployment.metadata.name] = {
            image: deployment.spec.template.spec.containers[0].image ?? "",
            replicas: desiredReplicas(deployment),
            readyReplicas: deployment.status?.readyReplicas ?? 0,
            updatedReplicas: deployment.status?.updatedReplicas ?? 0,
            availableReplicas: deployment.status?.availableReplicas ?? 0,
            observed: deployment.status?.observedGeneration === deployment.metadata.generation,
        };
    }
    const jobs: Record<string, JobState> = {};
    for (const job of lists.jobs ?? []) {
        const annotations = job.spec?.template?.metadata?.annotations ?? {};
        const finished = (type: string) => hasCondition(job, type);
        jobs[job.metadata.name] = {
            ...(annotations["physioflow/tag"] !== undefined ? { tag: annotations["physioflow/tag"] } : {}),
            ...(annotations["physioflow/migration-version"] !== undefined ? { migrationVersion: annotations["physioflow/migration-version"] } : {}),
            status: finished("Complete") ? "succeeded" : finished("Failed") ? "failed" : "running",
        };
    }
    return { services, deployments, jobs };
}

/** One app's Deployment of a color, as {@link colorReadiness} sees it. */
export interface AppReadiness {
    /** The app (its live Service's name), e.g. `physioflow-api`. */
    app: string;
    /** Its Deployment of the color, e.g. `physioflow-api-green`. */
    deployment: string;
    /** The Deployment exists. */
    found: boolean;
    /** `spec.replicas` (1 when unset, Kubernetes' default); 0 when the Deployment is missing. */
    desired: number;
    /** The pods it must have ready: the `replicas` asked for, else {@link desired}. */
    expected: number;
    readyReplicas: number;
    updatedReplicas: number;
    availableReplicas: number;
    /** Its controller has seen its latest spec. */
    observed: boolean;
    /** Found, seen by its controller, and `expected` pods (at least one) ready and of the latest template. */
    ready: boolean;
    /** Why the ready count does not tell it all, when it does not: `1/2 updated`, `its controller has not seen its latest spec`. */
    note?: string;
    /** For people, ready or not: `physioflow-api-green 1/2 ready`, `physioflow-api-green missing`, `physioflow-api-green 2/2 ready (1/2 updated)`. */
    reason: string;
}

/** Whether a color is ready: each app's {@link AppReadiness}, API first. */
export interface ColorReadiness {
    color: Color;
    /** Every app is ready. */
    ready: boolean;
    apps: AppReadiness[];
    /** The reasons of the apps not ready, joined with `, `; undefined when the color is ready. */
    reason?: string;
}

/**
 * The one definition of "is this color ready" (deploy's watch, rollback's cold check, the
 * emergency's wait, `status`, `verify`): each app's Deployment of `color` exists, its controller
 * has seen its latest spec, and `replicas` pods (the stack's, when the caller knows it; else the
 * Deployment's own desired count, at least one) are ready and run its latest template. Pure.
 */
export function colorReadiness(state: ClusterState, color: Color, replicas?: number): ColorReadiness {
    const apps = liveServices.map((app): AppReadiness => {
        const deployment = `${app}-${color}`;
        const d = state.deployments[deployment];
        const desired = d?.replicas ?? 0;
        const expected = replicas ?? desired;
        const counts = {
            readyReplicas: d?.readyReplicas ?? 0,
            updatedReplicas: d?.updatedReplicas ?? 0,
            availableReplicas: d?.availableReplicas ?? 0,
            observed: d?.observed ?? false,
        };
        const base = { app, deployment, found: d !== undefined, desired, expected, ...counts };
        if (d === undefined) return { ...base, ready: false, reason: `${deployment} missing` };
        const enough = expected > 0 && counts.readyReplicas >= expected;
        const note = !enough
            ? undefined
            : !counts.observed
              ? "its controller has not seen its latest spec"
              : counts.updatedReplicas < expected
                ? `${counts.updatedReplicas}/${expected} updated`
                : undefined;
        const reason = `${deployment} ${counts.readyReplicas}/${expected} ready${note ? ` (${note})` : ""}`;
        return { ...base, ready: enough && note === undefined, ...(note ? { note } : {}), reason };
    });
    const unready = apps.filter(app => !app.ready);
    return { color, ready: unready.length === 0, apps, ...(unready.length ? { reason: unready.map(app => app.reason).join(", ") } : {}) };
}

/**
 * One line per Deployment, then per Job, then per Service, for people: `Deployment
 * physioflow-api-green: …, 1/1 ready`, `Job physioflow-smoke-green (v1.1.0, migration 006):
 * succeeded`, `Service physioflow-api -> green (1 ready: green)`. In the order of a switch: a
 * color is ready, then smoke-tested, before a Service moves to it.
 */
export function describeClusterState(state: ClusterState): string[] {
    const lines: string[] = [];
    for (const [name, d] of Object.entries(state.deployments).sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`Deployment ${name}: ${d.image}, ${d.readyReplicas}/${d.replicas} ready`);
    }
    for (const [name, j] of Object.entries(state.jobs ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
        const what = [j.tag, j.migrationVersion && `migration ${j.migrationVersion}`].filter(Boolean).join(", ");
        lines.push(`Job ${name}${what ? ` (${what})` : ""}: ${j.status}`);
    }
    for (const [name, s] of Object.entries(state.services).sort(([a], [b]) => a.localeCompare(b))) {
        const ready = s.readyPods.length === 0 ? "no ready endpoints" : `${s.readyPods.length} ready: ${s.readyColors.join(", ")}`;
        lines.push(`Service ${name} -> ${s.selector.version ?? JSON.stringify(s.selector)} (${ready})`);
    }
    return lines;
}

/**
 * Reads the state over and over until `stop()` and reports each line of
 * {@link describeClusterState} that is new since the previous reading, with the seconds since
 * the start: a rollout as it happens (`+0.8s Deployment physioflow-api-green: …, 1/1 ready`).
 */
export function followClusterState(kubectl: Kubectl, namespace: string, report: (line: string) => void, intervalMs = 250): { stop(): Promise<void> } {
    const started = Date.now();
    let running = true;
    const loop = (async () => {
        let previous: Set<string> | undefined;
        while (running) {
            let lines: string[];
            try {
                lines = describeClusterState(await readClusterState(kubectl, namespace));
            } catch {
                lines = [...(previous ?? [])]; // a failed read (e.g. the API server busy) is no change
            }
            if (previous !== undefined) {
                const seconds = ((Date.now() - started) / 1000).toFixed(1);
                lines.filter(line => !previous!.has(line)).forEach(line => report(`+${seconds}s ${line}`));
            }
            previous = new Set(lines);
            await new Promise(resolve => setTimeout(resolve, intervalMs));
        }
    })();
    return {
        stop: async () => {
            running = false;
            await loop;
        },
    };
}

/**
 * The live color as read back from the cluster at one moment: the color both live Services
 * select, `mixed` when they select different colors, `unknown` (and why) when they could not be
 * read or select none.
 */
export type LiveColor = { color: Color } | { color: "mixed"; selectors: Record<string, string> } | { color: "unknown"; reason: string };

/** Pure: the live color the live Services of `state` select. */
export function liveColorOf(state: ClusterState): LiveColor {
    const selectors: Record<string, string> = {};
    for (const name of liveServices) {
        const service = state.services[name];
        if (service === undefined) return { color: "unknown", reason: `Service ${name} not found` };
        const version = service.selector.version;
        if (version === undefined || !isColor(version)) return { color: "unknown", reason: `Service ${name} selects ${JSON.stringify(service.selector)}` };
        selectors[name] = version;
    }
    const selected = [...new Set(Object.values(selectors))] as Color[];
    return selected.length === 1 ? { color: selected[0] } : { color: "mixed", selectors };
}

/** Reads the live Services' selectors now; never throws: a failed reading is `unknown` with its error. */
export async function readLiveColor(kubectl: Kubectl, namespace: string): Promise<LiveColor> {
    try {
        return liveColorOf(await readClusterState(kubectl, namespace));
    } catch (error) {
        return { color: "unknown", reason: ((error as Error).message ?? String(error)).split("\n")[0] };
    }
}

/** For people: `green is live`, `live color mixed (physioflow-api selects green, physioflow-web selects blue)`, `live color unknown (…)`. */
export function describeLive(live: LiveColor): string {
    if (live.color === "mixed")
        return `live color mixed (${Object.entries(live.selectors)
            .map(([service, color]) => `${service} selects ${color}`)
            .join(", ")})`;
    if (live.color === "unknown") return `live color unknown (${live.reason})`;
    return `${live.color} is live`;
}

/** Polls the Job every `intervalMs` until it has completed or failed; "did not finish in time" after `timeoutMs`. */
export async function waitForJob(
    kubectl: Kubectl,
    namespace: string,
    name: string,
    timeoutMs: number,
    intervalMs = 500,
): Promise<"succeeded" | "failed" | "did not finish in time"> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const job = await kubectlGet<Job>(kubectl, ["job", name, "-n", namespace]);
        if (hasCondition(job, "Complete")) return "succeeded";
        if (hasCondition(job, "Failed")) return "failed";
        await new Promise(resolve => setTimeout(resolve, intervalMs));
    }
    return "did not finish in time";
}

/** The Job has condition `type` (`Complete`, `Failed`) with status True. */
function hasCondition(job: Job, type: string): boolean {
    return (job.status?.conditions ?? []).some(c => c.type === type && c.status === "True");
}

/**
 * Polls until every live Service has ready endpoints and all of them are `color`'s pods: traffic
 * has moved, not just the selectors (the EndpointSlice controller follows a selector change a
 * moment later). A failed reading is "not yet". False after `timeoutMs`.
 */
export async function waitForTraffic(kubectl: Kubectl, namespace: string, color: Color, timeoutMs: number, intervalMs = 250): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const state = await readClusterState(kubectl, namespace).catch(() => undefined);
        if (state !== undefined && servesOnly(state, color)) return true;
        if (Date.now() >= deadline) return false;
        await new Promise(resolve => setTimeout(resolve, intervalMs));
    }
}

/**
 * Pure: `color`'s pods are down to its Deployments' desired replicas, and none of them is still
 * stopping. A pod that is stopping keeps serving the keep-alive connections opened to it while
 * its color was live (kube-proxy moves only new connections); only its end closes them. Resolves
 * to the pods still too many or stopping, by name (none: scaled down).
 */
export function podsNotScaledDown(lists: { pods: Pod[]; deployments: Deployment[] }, color: Color): string[] {
    const left: string[] = [];
    for (const app of allAppNames) {
        const deployment = lists.deployments.find(d => d.metadata.name === `${app}-${color}`);
        const pods = lists.pods.filter(p => p.metadata.labels?.app === app && p.metadata.labels?.version === color);
        const stopping = pods.filter(p => p.metadata.deletionTimestamp !== undefined);
        const running = pods.length - stopping.length;
        const desired = deployment === undefined ? 0 : desiredReplicas(deployment);
        if (stopping.length > 0 || running > desired) left.push(...pods.map(p => p.metadata.name));
    }
    return left.sort();
}

/**
 * Polls every `intervalMs` until {@link podsNotScaledDown} has none for `color`; resolves to the
 * pods still there after `timeoutMs` (none: done). A failed reading is "not yet".
 */
export async function waitForScaledDown(kubectl: Kubectl, namespace: string, color: Color, timeoutMs: number, intervalMs = 250): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let left: string[] = ["(not read)"];
    for (;;) {
        try {
            const { items } = await kubectlGet<{ items: Listed[] }>(kubectl, ["pods,deployments.apps", "-n", namespace]);
            left = podsNotScaledDown(
                {
                    pods: items.filter((item): item is Pod & { kind: "Pod" } => item.kind === "Pod"),
                    deployments: items.filter((item): item is Deployment & { kind: "Deployment" } => item.kind === "Deployment"),
                },
                color,
            );
        } catch {
            // Not read: not yet.
        }
        if (left.length === 0 || Date.now() >= deadline) return left;
        await new Promise(resolve => setTimeout(resolve, intervalMs));
    }
}

/** Pure: each of `services` (the live ones by default) selects `color` and has ready endpoints, all of them `color`'s pods. */
export function servesOnly(state: ClusterState, color: Color, services: readonly string[] = liveServices): boolean {
    return services.every(name => {
        const service = state.services[name];
        return (
            service !== undefined &&
            service.selector.version === color &&
            service.readyPods.length > 0 &&
            service.readyColors.length === 1 &&
            service.readyColors[0] === color
        );
    });
}
