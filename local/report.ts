/** What `npm run local` prints about a preview, an update and the resulting state. Pure. */
import { ClusterState } from "../release/clusterState";
import { countOps, ResourceStep, shortType } from "./engineEvents";

const symbols: Record<string, string> = {
    create: "+", update: "~", delete: "-", replace: "+-", "create-replacement": "++", "delete-replaced": "--", same: "=",
};

/**
 * One line per resource the engine would change (the stack resource itself and reads of the
 * stack's own last outputs left out), then how many stay as they are. Component resources are listed too: they are what the engine records.
 */
export function formatSteps(steps: readonly ResourceStep[]): string[] {
    const shown = steps.filter(step => step.type !== "pulumi:pulumi:Stack" && step.op !== "read");
    // The engine works on independent resources concurrently, so its order varies: sort for reading.
    const changed = shown.filter(step => step.op !== "same")
        .sort((a, b) => `${shortType(a.type)} ${a.name}`.localeCompare(`${shortType(b.type)} ${b.name}`));
    const width = Math.max(0, ...changed.map(step => `${shortType(step.type)} ${step.name}`.length));
    const lines = changed.map(step => {
        const what = `${shortType(step.type)} ${step.name}`.padEnd(width);
        const paths = step.diffs.length ? `  ${step.diffs.join(", ")}` : "";
        const replace = step.replaceBecause.length ? `  (replaced because of ${step.replaceBecause.join(", ")})` : "";
        return `${symbols[step.op] ?? "?"} ${what}  ${step.op}${paths}${replace}`;
    });
    const unchanged = shown.length - changed.length;
    if (changed.length === 0) return [`no changes (${unchanged} resources unchanged)`];
    return [...lines, `${unchanged} unchanged`];
}

/** `2 to update, 17 unchanged`, from the steps (stack resource and reads left out). */
export function summarizeSteps(steps: readonly ResourceStep[], tense: "will" | "did"): string {
    const counts = countOps(steps.filter(step => step.type !== "pulumi:pulumi:Stack" && step.op !== "read"));
    const words: Record<string, [string, string]> = {
        create: ["to create", "created"], update: ["to update", "updated"], replace: ["to replace", "replaced"],
        delete: ["to delete", "deleted"], same: ["unchanged", "unchanged"],
    };
    const order = ["create", "update", "replace", "delete"];
    const rank = (op: string) => (op === "same" ? 99 : order.includes(op) ? order.indexOf(op) : 50);
    return Object.entries(counts)
        .sort(([a], [b]) => rank(a) - rank(b))
        .map(([op, n]) => `${n} ${(words[op] ?? [op, op])[tense === "will" ? 0 : 1]}`)
        .join(", ");
}

/** The stack outputs (as `up` returns them, resolved) plus what the cluster reports. */
export interface LocalState {
    outputs: Record<string, any>;
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
        const selects = `selects ${Object.entries(s.selector).map(([k, v]) => `${k}=${v}`).join(",")}`;
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
        ...deployments.map(([name, d], i): [string, string] =>
            [i === 0 ? "deployments" : "", `${name.padEnd(dWidth)}  ${d.readyReplicas}/${d.replicas} ready  ${d.image}`]),
        ["migration", `${outputs.migrationVersion} in ConfigMap migration-version; database at ${state.databaseVersion}`],
        ["namespace", `${outputs.namespaceName} (environment ${outputs.environment})`],
    ];
    return rows.map(([key, value]) => `${key.padEnd(14)}${value}`);
}
