/**
 * Where the stack's pods run and how their images are found (the stack's `podNodeLabel` and
 * `imagePullPolicy`, components/config.ts): the same for the apps' Deployments
 * (components/colorDeployment.ts) and the smoke Jobs (components/smokeChecks.ts, the stack's and an
 * emergency rollback's), so a smoke test runs where the colors it checks run. Pure, no Pulumi.
 */

/** The stack's `podNodeLabel` and `imagePullPolicy`; empty: Kubernetes' defaults. */
export interface PodPlacement {
    /** A node label the pods select; they also tolerate the NoSchedule taint of the same key and value. */
    node?: { key: string; value: string };
    /** Every container's pull policy. Default: Kubernetes' (by tag). */
    imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
}

/** The pod spec's `nodeSelector` and `tolerations` for `pods.node`, or no field at all when unset. */
export function nodePlacement(pods: PodPlacement | undefined) {
    if (pods?.node === undefined) return {};
    const { key, value } = pods.node;
    // Pinned to the nodes with the stack's label, whose taint keeps every other pod off them.
    return {
        nodeSelector: { [key]: value },
        tolerations: [{ key, operator: "Equal", value, effect: "NoSchedule" }],
    };
}

/** A container's `imagePullPolicy` from `pods`, or no field at all when unset. */
export function pullPolicy(pods: PodPlacement | undefined) {
    return pods?.imagePullPolicy === undefined ? {} : { imagePullPolicy: pods.imagePullPolicy };
}
