/** What `npm run local` prints about a preview, an update and the resulting state. Pure. */
import { appNames } from "../components/appNames";
import { ClusterState } from "../release/clusterState";

// The step summaries are the release code's; the local run prints them too.
export { formatSteps, summarizeSteps } from "../release/engineEvents";

/** The stack outputs as `up` returns them, resolved: the ones printed here by name, and the rest. */
export interface LocalOutputs {
    activeColor?: string;
    inactiveColor?: string;
    tags?: Partial<Record<string, string>>;
    /** The Services by role, e.g. `{ api: "physioflow-api", ... }`. */
    services?: Record<string, string>;
    migrationVersion?: string;
    namespaceName?: string;
    environment?: string;
    [output: string]: unknown;
}

/** The stack outputs plus what the cluster reports. */
export interface LocalState {
    outputs: LocalOutputs;
    /** The live objects, read back from the API server after the update. */
    cluster: ClusterState;
    /** Version `schema_migrations` reports in the database. */
    databaseVersion: string;
}

/** The resulting state, one aligned line per fact. */
export function formatState(state: LocalState): string[] {
    const { outputs, cluster } = state;
    const serving = (service: string) => {
        const s = cluster.services[service];
        if (!s) return "(not in the cluster)";
        const selects = `selects ${Object.entries(s.selector)
            .map(([k, v]) => `${k}=${v}`)
            .join(",")}`;
        const ready = s.readyPods.length === 0 ? "no ready endpoints" : `${s.readyPods.length} ready endpoint(s): ${s.readyColors.join(", ")}`;
        return `${selects}; ${ready}`;
    };
    const tag = (color: string) => `${color} ${outputs.tags?.[color]}${color === outputs.activeColor ? " (active)" : ""}`;
    const services = Object.values(outputs.services ?? {}).map(String);
    const width = Math.max(0, ...services.map(name => name.length));
    const deployments = Object.entries(cluster.deployments).sort(([a], [b]) => a.localeCompare(b));
    const dWidth = Math.max(0, ...deployments.map(([name]) => name.length));
    const rows: [string, string][] = [
        ["active color", `${outputs.activeColor} (inactive: ${outputs.inactiveColor})`],
        ["tags", `${tag("blue")}, ${tag("green")}`],
        ...services.map((name, i): [string, string] => [i === 0 ? "services" : "", `${name.padEnd(width)}  ${serving(name)}`]),
        ...deployments.map(([name, d], i): [string, string] => [
            i === 0 ? "deployments" : "",
            `${name.padEnd(dWidth)}  ${d.readyReplicas}/${d.replicas} ready  ${d.image}`,
        ]),
        ["migration", `${outputs.migrationVersion} in ConfigMap migration-version; database at ${state.databaseVersion}`],
        ["namespace", `${outputs.namespaceName} (environment ${outputs.environment})`],
    ];
    return rows.map(([key, value]) => `${key.padEnd(14)}${value}`);
}

/** What `npm run local` saw on the real node after the update. */
export interface ServingReport {
    /** The Node's name. */
    node: string;
    /** The apps' pods (not being deleted), as devenv/nodeTraffic.ts `podsIn` reads them. */
    pods: { name: string; nodeName: string; ready: boolean; containerId: string }[];
    /** GETs of the live API through its Service, from inside the node. */
    requests: { url: string; answer: { status: number; body: string } | { error: string } }[];
    /** The update's figures and its timeline's path, or why it was not measured. */
    traffic: { figures: string; timeline: string } | { notMeasured: string };
}

/** The pods, the answers and the traffic figures, one aligned line per fact. */
export function formatServing(report: ServingReport): string[] {
    const width = Math.max(0, ...report.pods.map(pod => pod.name.length));
    const answer = (a: ServingReport["requests"][number]["answer"]) => ("error" in a ? `no answer: ${a.error}` : `${a.status} ${a.body}`);
    const rows: [string, string][] = [
        ...report.pods.map((pod, i): [string, string] => [
            i === 0 ? "pods" : "",
            `${pod.name.padEnd(width)}  on ${pod.nodeName || "(no node)"}, ${pod.ready ? "Ready" : "not Ready"}, ${pod.containerId || "(no container)"}`,
        ]),
        ...report.requests.map((r, i): [string, string] => [i === 0 ? "GET" : "", `${r.url} -> ${answer(r.answer)}`]),
        ...("figures" in report.traffic
            ? ([
                  ["traffic", report.traffic.figures],
                  ["timeline", report.traffic.timeline],
              ] as [string, string][])
            : ([["traffic", `not measured: ${report.traffic.notMeasured}`]] as [string, string][])),
    ];
    if (report.pods.length === 0) rows.unshift(["pods", `none of the apps' pods runs on ${report.node}`]);
    return rows.map(([key, value]) => `${key.padEnd(10)}${value}`);
}

/**
 * The moment a line of the followed rollout (release/clusterState.ts `followClusterState`) marks on
 * a traffic timeline, shortened, or undefined for a line that marks none: the live API Service's
 * selector and endpoints, and its Deployments' ready counts (a color up, a color scaled down).
 */
export function timelineEvent(line: string): string | undefined {
    const text = line.replace(/^\+\d+(\.\d+)?s /, "");
    if (text.startsWith(`Service ${appNames.api} -> `)) return text.slice("Service ".length);
    const deployment = /^Deployment ([^:]+): .*, (\d+\/\d+ ready)$/.exec(text);
    return deployment && [`${appNames.api}-blue`, `${appNames.api}-green`].includes(deployment[1]) ? `${deployment[1]} ${deployment[2]}` : undefined;
}
