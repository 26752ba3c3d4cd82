import * as crypto from "crypto";
import { Color, colors, otherColor } from "./colors";
import { ConfigError } from "./config";

/**
 * The database role a color's pods log in as: `<owner>_<color>`, a member of the owner role that
 * becomes it at login (components/appDatabase.ts). Each color has its own password, so one can be
 * rotated while the other serves.
 */
export function loginRole(owner: string, color: Color): string {
    return `${owner}_${color}`;
}

/** The config key of a color's database password, e.g. `greenDbPassword`. */
export function colorPasswordKey(color: Color): string {
    return `${color}DbPassword`;
}

/**
 * A digest of a password, to tell a changed password from the last update's. Kept only in the
 * stack's state as a secret output, never in the cluster.
 */
export function credentialDigest(password: string): string {
    return crypto.createHash("sha256").update(`physioflow-credential\0${password}`).digest("hex").slice(0, 32);
}

/**
 * Refuses a change of the password of the color that was live at the last update, in any update
 * (a switch included: its pods serve until the live Services have moved): its role's password
 * would change under pods that keep logging in with the old one. A rotation goes to the other
 * color, which is then switched to. Pure; throws {@link ConfigError}.
 */
export function checkCredentialStep(
    previous: { activeColor: Color; credentialDigests?: Partial<Record<Color, string>> } | undefined,
    digests: Record<Color, string>,
): void {
    const before = previous?.credentialDigests;
    if (previous === undefined || before === undefined) return;
    const live = previous.activeColor;
    if (before[live] === undefined || before[live] === digests[live]) return;
    const other = otherColor(live);
    throw new ConfigError(
        `physioflow:${colorPasswordKey(live)} changed while ${live} is live: ${live}'s pods would lose their database login; ` +
            `put the old value back and rotate ${other} first: pulumi config set --secret ${colorPasswordKey(other)} <new>, pulumi up, ` +
            `pulumi config set activeColor ${other}, pulumi up; then ${live}'s (docs/database.md, "Rotating a password")`,
    );
}

/** Reads recorded digests back from an output value; anything else is undefined. */
export function parseCredentialDigests(value: unknown): Partial<Record<Color, string>> | undefined {
    if (typeof value !== "object" || value === null) return undefined;
    const result: Partial<Record<Color, string>> = {};
    for (const color of colors) {
        const digest = (value as Record<string, unknown>)[color];
        if (typeof digest === "string") result[color] = digest;
    }
    return Object.keys(result).length === 0 ? undefined : result;
}
