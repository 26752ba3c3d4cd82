/** One of the two Deployments of an app. */
export type Color = "blue" | "green";

export const colors: readonly Color[] = ["blue", "green"];

export function isColor(value: string): value is Color {
    return (colors as readonly string[]).includes(value);
}

/** The color the live Service does not select. */
export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}

/**
 * Replica count per color: the active color serves with `replicas`, the inactive one is kept at
 * `inactiveReplicas` (0 is the runbook's "scale down old version"; more keeps it warm).
 */
export function replicasByColor(activeColor: Color, replicas: number, inactiveReplicas: number): Record<Color, number> {
    return activeColor === "blue" ? { blue: replicas, green: inactiveReplicas } : { blue: inactiveReplicas, green: replicas };
}
