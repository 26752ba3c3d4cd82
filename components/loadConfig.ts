import * as pulumi from "@pulumi/pulumi";
import { colorPasswordKey, credentialDigest } from "./colorCredentials";
import { Color, colors } from "./colors";
import { checkSecretsPresent, ConfigError, parseStackConfig, RawConfig, requiredSecrets, StackConfig, uploadSecrets } from "./config";

const namespace = "physioflow";

/** Secrets read from the stack; they stay secret Outputs all the way to the cluster. */
export interface StackSecrets {
    /** Password of the owner role, which migrations and backups use (`pulumi config set --secret dbPassword`). */
    dbPassword: pulumi.Output<string>;
    /** Each color's own database password, for its login role (`blueDbPassword`, `greenDbPassword`). */
    colorDbPasswords: Record<Color, pulumi.Output<string>>;
    /** {@link credentialDigest} of each color's password, to refuse a change of the live color's. */
    credentialDigests: Record<Color, string>;
    /** Password of the admin role the postgresql provider connects as (`pulumi config set --secret dbAdminPassword`). */
    dbAdminPassword: pulumi.Output<string>;
    /** Credentials of the backup store, when `backupS3Endpoint` is set. */
    backupS3?: { accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> };
}

/**
 * Reads and validates the stack's `physioflow:*` settings. A bad value stops the program with one
 * line (a RunError prints no stack trace) before any resource is registered.
 */
export function loadStackConfig(): { settings: StackConfig; secrets: StackSecrets } {
    const config = new pulumi.Config(namespace);
    try {
        const settings = parseStackConfig(plainValues(pulumi.runtime.allConfig()));
        checkSecretsPresent(key => config.getSecret(key) !== undefined, settings);
        const backupS3 = settings.backupUpload && {
            accessKeyId: config.requireSecret("backupS3AccessKeyId"),
            secretAccessKey: config.requireSecret("backupS3SecretAccessKey"),
        };
        return {
            settings,
            secrets: {
                dbPassword: config.requireSecret("dbPassword"),
                colorDbPasswords: byColor(color => config.requireSecret(colorPasswordKey(color))),
                // Read in memory only: the digests leave the program as a secret output.
                credentialDigests: byColor(color => credentialDigest(pulumi.runtime.allConfig()[`${namespace}:${colorPasswordKey(color)}`])),
                dbAdminPassword: config.requireSecret("dbAdminPassword"),
                backupS3,
            },
        };
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

function byColor<T>(value: (color: Color) => T): Record<Color, T> {
    return Object.fromEntries(colors.map(color => [color, value(color)])) as Record<Color, T>;
}

/** The `physioflow:` keys without their namespace, secrets left out so they never leave Outputs. */
export function plainValues(all: Record<string, string>): RawConfig {
    const raw: RawConfig = {};
    for (const [fullKey, value] of Object.entries(all)) {
        const [ns, key] = fullKey.split(":", 2);
        if (ns !== namespace || ([...requiredSecrets, ...uploadSecrets] as string[]).includes(key)) continue;
        raw[key] = value;
    }
    return raw;
}
