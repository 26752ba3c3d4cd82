/**
 * The stack's config as the release commands read and write it: read through the program's own
 * validation (`parseStackConfig`, components/config.ts), so a command never re-parses a raw string,
 * repeats a default or produces `NaN`; written as a typed change, so a step says
 * `{ inactiveWarm: true }`, never `{ inactiveWarm: "true" }`.
 */
import type * as auto from "@pulumi/pulumi/automation";
import type { Color } from "../components/colors";
import { ConfigError, parseStackConfig, requiredSecrets, StackConfig, uploadSecrets } from "../components/config";
import { plainValues } from "../components/loadConfig";

/** The stack's config, as the program validates it (secrets aside: the commands that need them read them where they use them). */
export async function readStackConfig(stack: auto.Stack): Promise<StackConfig> {
    return stackConfigFrom(await stack.getAllConfig());
}

/**
 * The config of a stack from what `stack.getAllConfig()` returned, as the program validates it:
 * its defaults, and a {@link ConfigError} in one line naming the key, the value and what is
 * allowed. Secrets left out ({@link stackSecret} reads one). Pure.
 */
export function stackConfigFrom(all: auto.ConfigMap): StackConfig {
    const plain = Object.fromEntries(
        Object.entries(all)
            .filter(([, value]) => !value.secret)
            .map(([key, value]) => [key, value.value]),
    );
    return parseStackConfig(plainValues(plain));
}

/** A secret the stack's program reads (`dbPassword`, `dbAdminPassword`…). */
export type StackSecretKey = (typeof requiredSecrets)[number] | (typeof uploadSecrets)[number];

/** The secret `key` from what `stack.getAllConfig()` returned (decrypted), undefined when it is not set. Pure. */
export function stackSecret(all: auto.ConfigMap, key: StackSecretKey): string | undefined {
    return all[`physioflow:${key}`]?.value;
}

/** A change of the settings a release moves; each key written as the stack's `physioflow:<key>`. */
export interface ReleaseConfigChange {
    activeColor?: Color;
    blueTag?: string;
    greenTag?: string;
    /** The inactive color at full replicas (released and warm, or the old color after a switch). */
    inactiveWarm?: boolean;
    /** Rollbacks hold the migrations at the applied version; the release step and a restore end the hold (release/migrationHold.ts). */
    holdMigrations?: boolean;
    /** A three-digit migration version (a restore records the restored one). */
    migrationTarget?: string;
}

/** The change as the stack file's values (keys without `physioflow:`), in a stable order. Pure. */
export function configValues(change: ReleaseConfigChange): Record<string, string> {
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(change) as [keyof ReleaseConfigChange, string | boolean | undefined][]) {
        if (value === undefined) continue;
        values[key] = typeof value === "boolean" ? String(value) : value;
    }
    if (values.migrationTarget !== undefined && !/^\d{3}$/.test(values.migrationTarget)) {
        throw new ConfigError(`migrationTarget "${values.migrationTarget}" is not a three-digit migration version`);
    }
    return values;
}

/** Writes `change` into the stack's config (its stack file). */
export async function setStackConfig(stack: auto.Stack, change: ReleaseConfigChange): Promise<void> {
    const values: auto.ConfigMap = {};
    for (const [key, value] of Object.entries(configValues(change))) values[`physioflow:${key}`] = { value };
    await stack.setAllConfig(values);
}
