/** What `npm run local` prints about a preview, an update and the resulting state. Pure. */
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
