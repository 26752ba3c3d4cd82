import * as pulumi from "@pulumi/pulumi";
import { checkCredentialStep, parseCredentialDigests } from "./colorCredentials";
import { parseColorSettings, PreviousSettings } from "./colorSettings";
import { Color, isColor, otherColor } from "./colors";
import { ConfigError, StackConfig } from "./config";

/** What the last successful update of the stack left live, from its outputs. */
export interface PreviousRelease extends PreviousSettings {
    activeColor: Color;
    tags: Record<Color, string>;
    /** Digests of each color's database password at that update (a secret output). */
    credentialDigests?: Partial<Record<Color, string>>;
    /** The migration version that update applied (its `migrationVersion` output), when it is one (`NNN`). */
    migrationVersion?: string;
}

/**
 * Refuses a change of the live color's image tag in place: it would roll the pods that serve
 * traffic outside blue-green, with no smoke test before they take it. A release goes to the other
 * color (then a switch); releasing and switching in one update is allowed, since the new color's
 * smoke test still runs before the live Services move. Pure; throws {@link ConfigError}.
 */
export function checkReleaseStep(previous: PreviousRelease | undefined, settings: StackConfig): void {
    if (previous === undefined) return;
    const live = previous.activeColor;
    if (settings.activeColor !== live) return;
    const before = previous.tags[live];
    const after = settings.tags[live];
    if (before === undefined || before === after) return;
    const other = otherColor(live);
    throw new ConfigError(
        `physioflow:${live}Tag ${before} -> ${after} would replace the live color's pods in place (${live} is active); ` +
            `release to ${other} instead: pulumi config set ${live}Tag ${before} && pulumi config set ${other}Tag ${after}, ` +
            `pulumi up, then pulumi config set activeColor ${other}`,
    );
}

/**
 * The version `holdMigrations` keeps: the one the last update applied. A hold with none to keep
 * (a first update, or outputs without it) is refused rather than guessed. Pure; throws {@link ConfigError}.
 */
export function heldMigrationVersion(previous: PreviousRelease | undefined, settings: StackConfig): string | undefined {
    if (!settings.holdMigrations) return undefined;
    if (previous?.migrationVersion === undefined) {
        throw new ConfigError(
            "physioflow:holdMigrations is true but the stack's last update recorded no migrationVersion output to hold; " +
                "unset it for this update: pulumi config set holdMigrations false",
        );
    }
    return previous.migrationVersion;
}

/** Reads {@link PreviousRelease} from the stack's own last outputs; undefined before its first update. */
export async function readPreviousRelease(): Promise<PreviousRelease | undefined> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const names = ["activeColor", "tags", "colorSettings", "settingsDigest", "credentialDigests", "migrationVersion"];
    const details = await Promise.all(names.map(name => self.getOutputDetails(name)));
    return parsePreviousRelease(Object.fromEntries(names.map((name, i) => [name, details[i]])));
}

/**
 * {@link PreviousRelease} from output details as a StackReference gives them (`value`, or
 * `secretValue` for a secret output); undefined without a valid active color and tags. Pure.
 */
export function parsePreviousRelease(details: Record<string, { value?: unknown; secretValue?: unknown } | undefined>): PreviousRelease | undefined {
    const color = details.activeColor?.value;
    const tags = details.tags?.value;
    if (typeof color !== "string" || !isColor(color) || typeof tags !== "object" || tags === null) return undefined;
    const digest = details.settingsDigest?.value;
    const credentials = details.credentialDigests;
    const migrationVersion = details.migrationVersion?.value;
    return {
        activeColor: color,
        tags: tags as Record<Color, string>,
        colorSettings: parseColorSettings(details.colorSettings?.value),
        settingsDigest: typeof digest === "string" ? digest : undefined,
        credentialDigests: parseCredentialDigests(credentials?.secretValue ?? credentials?.value),
        ...(typeof migrationVersion === "string" && /^\d{3}$/.test(migrationVersion) ? { migrationVersion } : {}),
    };
}

/**
 * {@link checkReleaseStep}, {@link checkCredentialStep} and {@link heldMigrationVersion} against
 * the stack's last outputs; a refusal stops the program with one line before any resource. Returns
 * what the last update left, for the colors' settings (components/colorSettings.ts) and the
 * migration version a hold keeps.
 */
export async function guardReleaseStep(settings: StackConfig, credentialDigests: Record<Color, string>): Promise<PreviousRelease | undefined> {
    try {
        const previous = await readPreviousRelease();
        checkReleaseStep(previous, settings);
        checkCredentialStep(previous, credentialDigests);
        heldMigrationVersion(previous, settings);
        return previous;
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}
