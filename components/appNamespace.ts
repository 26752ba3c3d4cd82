import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface AppNamespaceArgs {
    /** Environment name, put on the Namespace as a label. */
    environment: string;
    /** Keys of the Secret `physioflow-secrets`; values must be secret Outputs. */
    secrets: Record<string, pulumi.Input<string>>;
    /** Migration version recorded in the ConfigMap `migration-version` (runbook Appendix B). */
    migrationVersion: pulumi.Input<string>;
}

/** Name of the Secret both apps read their credentials from (the runbook's `physioflow-secrets`). */
export const secretName = "physioflow-secrets";

/**
 * The namespace and what both apps share in it: the Secret `physioflow-secrets` and the ConfigMap
 * `migration-version`. The Namespace is retained if the stack is destroyed, so a mistaken
 * `pulumi destroy` cannot take other objects in it (or their volumes) with it.
 */
export class AppNamespace extends pulumi.ComponentResource {
    /** The namespace's name, as an Output so that users of it depend on it. */
    public readonly name: pulumi.Output<string>;
    public readonly secretName: pulumi.Output<string>;
    public readonly migrationVersion: pulumi.Output<string>;

    constructor(name: string, args: AppNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:k8s:AppNamespace", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(name, {
            metadata: { name, labels: { "app.kubernetes.io/part-of": "physioflow", environment: args.environment } },
        }, { parent: this, retainOnDelete: true });
        this.name = namespace.metadata.name;

        const secret = new k8s.core.v1.Secret(secretName, {
            metadata: { name: secretName, namespace: this.name },
            type: "Opaque",
            stringData: args.secrets,
        }, { parent: this });
        this.secretName = secret.metadata.name;

        const versionMap = new k8s.core.v1.ConfigMap("migration-version", {
            metadata: { name: "migration-version", namespace: this.name },
            data: { version: args.migrationVersion },
        }, { parent: this });
        this.migrationVersion = versionMap.data.apply(data => data.version);

        this.registerOutputs({ name: this.name, secretName: this.secretName, migrationVersion: this.migrationVersion });
    }
}
