/**
 * The `local` stack's settings: everything points at this machine (a PostgreSQL on 127.0.0.1, the
 * control plane scripts/cluster.sh starts, `example.test` URLs), and `--set key=value` changes on
 * top. Pure: callers pass in paths and the port.
 */
import { ConfigError, knownKeys, parseStackConfig, requiredSecrets, StackConfig, uploadSecrets } from "../components/config";

const secretKeys: readonly string[] = [...requiredSecrets, ...uploadSecrets];

/**
 * The settings a local stack starts with (keys without `physioflow:`): the cluster is the one whose
 * admin kubeconfig is `kubeconfig`, or, with `renderDir`, none (manifests are rendered there). With
 * `node`, the apps' pods run on that real node (devenv/node.ts, docs/node.md): they select its label
 * and tolerate its taint, use the images imported into it (`imagePullPolicy: Never`) and reach the
 * database at `node.dbHost` (the host's PostgreSQL relayed into the node), while the machine
 * running Pulumi keeps 127.0.0.1. Without it, kwok plays the pods.
 */
export function localStackSettings(args: {
    kubeconfig?: string;
    renderDir?: string;
    backupDir: string;
    dbPort: number;
    node?: { label: string; dbHost: string };
}): Record<string, string> {
    return {
        environment: "local",
        activeColor: "blue",
        blueTag: "v1.0.0",
        greenTag: "v1.0.0",
        replicas: "1",
        inactiveReplicas: "0",
        imageRegistry: "registry.local:5000",
        // Built offline by scripts/apps.sh (busybox and curl's stand-in): no registry is reachable.
        smokeImage: "registry.local:5000/physioflow-smoke:v1",
        webUrl: "http://physioflow.example.test",
        apiUrl: "http://physioflow.example.test/api",
        keycloakUrl: "http://keycloak.example.test",
        keycloakRealm: "physioflow-local",
        keycloakClientId: "physioflow-web",
        dbHost: "127.0.0.1",
        dbPort: String(args.dbPort),
        dbName: "physioflow_local",
        dbUser: "physioflow",
        dbSslMode: "disable",
        backupDir: args.backupDir,
        ...(args.node !== undefined ? nodeSettings(args.node) : {}),
        ...(args.renderDir !== undefined ? { renderYamlTo: args.renderDir } : {}),
        ...(args.kubeconfig !== undefined ? { kubeconfig: args.kubeconfig } : {}),
    };
}

/** The settings that put the apps' pods on a real node (`node` of {@link localStackSettings}). */
export function nodeSettings(node: { label: string; dbHost: string }): Record<"podNodeLabel" | "imagePullPolicy" | "dbHostForPods", string> {
    return { podNodeLabel: node.label, imagePullPolicy: "Never", dbHostForPods: node.dbHost };
}

/** Settings `npm run local` owns because they describe this machine, and why. */
export const managedKeys: Readonly<Record<string, string>> = {
    dbHost: "the PostgreSQL it starts listens on 127.0.0.1 only",
    dbAdminUser: "it is the superuser of the PostgreSQL it created",
    dbSslMode: "the PostgreSQL it starts has no TLS",
    backupDir: "backups stay under .local/backups",
    backupS3Endpoint: "backups stay under .local/backups; nothing is uploaded",
    backupS3Bucket: "backups stay under .local/backups; nothing is uploaded",
    backupS3Region: "backups stay under .local/backups; nothing is uploaded",
    kubeconfig: "it deploys to the control plane it starts in .local/cluster, and to no other cluster",
    kubeContext: "it deploys to the control plane it starts in .local/cluster, and to no other cluster",
    renderYamlTo: "it deploys to the control plane it starts in .local/cluster",
    podNodeLabel: "the pods run on the real node it starts (on kwok's with --no-node)",
    imagePullPolicy: "the pods run the images imported into the real node it starts (kwok's pods run none with --no-node)",
    dbHostForPods: "the pods reach its PostgreSQL through the real node's relay (kwok's pods reach nothing with --no-node)",
};

/** `key=value` from the command line into a key without `physioflow:` and its value. */
export function parseSetting(text: string): [string, string] {
    const at = text.indexOf("=");
    if (at <= 0) {
        throw new ConfigError(`--set "${text}" is not key=value, e.g. --set activeColor=green`);
    }
    return [text.slice(0, at).replace(/^physioflow:/, ""), text.slice(at + 1)];
}

/**
 * Applies `--set` changes to the stack's current settings and validates the result as the program
 * would, so a bad value is refused before anything runs or is saved.
 */
export function applySettings(
    current: Record<string, string>,
    changes: readonly [string, string][],
): { settings: Record<string, string>; config: StackConfig } {
    const settings = { ...current };
    for (const [key, value] of changes) {
        if (secretKeys.includes(key)) {
            throw new ConfigError(
                `physioflow:${key} is a secret and cannot be --set: npm run local generates the secrets it needs; npm run local -- --reset starts over`,
            );
        }
        if (key in managedKeys) {
            throw new ConfigError(`physioflow:${key} cannot be --set: npm run local manages it (${managedKeys[key]}); npm run local -- --reset starts over`);
        }
        if (!knownKeys.includes(key)) {
            const settable = knownKeys.filter(k => !(k in managedKeys) && !secretKeys.includes(k));
            throw new ConfigError(`physioflow:${key} is not a setting this program reads; settable keys: ${settable.join(", ")}`);
        }
        settings[key] = value;
    }
    return { settings, config: parseStackConfig(settings) };
}
