import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Adoption, adoptOptions } from "./adoption";
import { migrationVersionMapName } from "./appNames";
import { Color, colors } from "./colors";

/** A color's database login, for its Secret. */
export interface ColorCredential {
    /** The color's login role (`DATABASE_USER`). */
    user: pulumi.Input<string>;
    /** Its password (`POSTGRES_PASSWORD`); a secret Output. */
    password: pulumi.Input<string>;
}

export interface AppNamespaceArgs {
    /** Environment name, put on the Namespace as a label. */
    environment: string;
    /** Each color's database login, in the color's Secret. */
    credentials: Record<Color, ColorCredential>;
    /** Migration version recorded in the ConfigMap `migration-version` (runbook Appendix B). */
    migrationVersion: pulumi.Input<string>;
    /** Adopt an existing namespace of this name (its labels are set by the next update). Default false. */
    importExisting?: boolean;
    /** The team's objects to adopt as they are (`physioflow import`): here the `migration-version` ConfigMap, when listed. Default none. */
    adopt?: Adoption;
}

/** Prefix of each color's Secret, `physioflow-secrets-<color>-<suffix>` (the runbook's `physioflow-secrets`, one per color). */
export const secretName = "physioflow-secrets";

/**
 * The namespace and what the apps share in it: a Secret per color with that color's database login
 * and the ConfigMap `migration-version`. The Namespace is retained if the stack is destroyed, so a
 * mistaken `pulumi destroy` cannot take other objects in it (or their volumes) with it.
 *
 * Each Secret's name has a suffix the engine picks: a changed credential is a new Secret, created
 * before the old one is deleted, and the new name in the color's pod template rolls that color's
 * pods, and no other's (a fixed name would be replaced delete-first, taking every Deployment that
 * uses it along).
 */
export class AppNamespace extends pulumi.ComponentResource {
    /** The namespace's name, as an Output so that users of it depend on it. */
    public readonly name: pulumi.Output<string>;
    /** Each color's Secret. */
    public readonly secretNames: Record<Color, pulumi.Output<string>>;
    public readonly migrationVersion: pulumi.Output<string>;

    constructor(name: string, args: AppNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:k8s:AppNamespace", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(
            name,
            {
                metadata: { name, labels: { "app.kubernetes.io/part-of": "physioflow", environment: args.environment } },
            },
            {
                parent: this,
                retainOnDelete: true,
                // An import must match what exists; the labels the team's namespace lacks are added by the next update.
                ...(args.importExisting ? { import: name, ignoreChanges: ["metadata.labels"] } : {}),
            },
        );
        this.name = namespace.metadata.name;

        const secretNames = {} as Record<Color, pulumi.Output<string>>;
        for (const color of colors) {
            const secret = new k8s.core.v1.Secret(
                `${secretName}-${color}`,
                {
                    metadata: { namespace: this.name, labels: { "app.kubernetes.io/part-of": "physioflow", version: color } },
                    type: "Opaque",
                    stringData: { DATABASE_USER: args.credentials[color].user, POSTGRES_PASSWORD: args.credentials[color].password },
                },
                { parent: this },
            );
            secretNames[color] = secret.metadata.name;
        }
        this.secretNames = secretNames;

        const versionMap = new k8s.core.v1.ConfigMap(
            migrationVersionMapName,
            {
                metadata: { name: migrationVersionMapName, namespace: this.name },
                data: { version: args.migrationVersion },
            },
            // Adopted with the version the runbook's scripts wrote; the next update writes the stack's.
            { parent: this, ...adoptOptions(args.adopt, "ConfigMap", migrationVersionMapName, ["data"]) },
        );
        this.migrationVersion = versionMap.data.apply(data => data.version);

        this.registerOutputs({ name: this.name, secretNames: this.secretNames, migrationVersion: this.migrationVersion });
    }
}
