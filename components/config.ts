import { namedObjects } from "./appNames";
import { Color, colors, otherColor } from "./colors";
import { DEFAULT_COLD_STORAGE_CLASS, DEFAULT_MONTHLY_KEEP_MONTHS } from "../database/backup/storeLayout";
import { parseSmokeChecks, SmokeCheck } from "./smokeChecks";

/** The runbook's environments, plus `local` for a stack that renders manifests on this machine. */
export type Environment = "dev" | "staging" | "prod" | "local";
const environments: readonly Environment[] = ["dev", "staging", "prod", "local"];

/** `sslmode` values both libpq (the CLI) and lib/pq (the postgresql provider) understand. */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";
const sslModes: readonly SslMode[] = ["disable", "require", "verify-ca", "verify-full"];

/** Environments where an image must be pinned to a real release tag. */
const pinnedEnvironments: readonly Environment[] = ["staging", "prod"];

/** Everything a stack file decides, validated. Secrets are not here: they stay Pulumi secrets. */
export interface StackConfig {
    environment: Environment;
    /** Kubernetes namespace, `physioflow-<environment>` unless set. */
    namespace: string;
    /** The color the live Services select. */
    activeColor: Color;
    /** The other color, reachable through the preview Services. */
    inactiveColor: Color;
    /** Image tag per color (shared by the API and web images, which are released together). */
    tags: Record<Color, string>;
    /** Replicas of the active color. */
    replicas: number;
    /** Replicas of the inactive color when it is not warm (0: scaled down, the runbook's way). */
    inactiveReplicas: number;
    /**
     * The inactive color runs `replicas` pods (it is "warm"): set for a release (its smoke test
     * needs pods) and kept after a switch until the release is finished, so switching back is
     * instant. Unset, the inactive color has `inactiveReplicas`.
     */
    inactiveWarm: boolean;
    /**
     * Adopt the team's existing namespace, database and owner role instead of creating them (the
     * `import` resource option), for a stack's first `up`; `npx physioflow import <stack>` sets it
     * for that one update. Default false.
     */
    importExisting: boolean;
    /**
     * The objects of the stack's namespace that the first `up` adopts as they are, as `Kind/name`
     * (components/appNames.ts `namedObjects`): `npx physioflow import <stack>` lists those it finds
     * (the runbook's Deployments, Services, `migration-version`) for that one update, with
     * `importExisting`. Default none.
     */
    importObjects: string[];
    /** The smoke test each color with pods must pass (components/smokeTest.ts). */
    smoke: { image: string; checks: SmokeCheck[] };
    /** Where the release commands post a JSON message on a switch and a rollback (e.g. a Slack webhook); unset: none. */
    notifyWebhookUrl?: string;
    /**
     * The error rate the watch after a switch reads (release/errorRate.ts): the team's Prometheus
     * (`prometheusUrl`, reachable from where the deploy runs), a PromQL query giving errors per
     * second (`errorRateQuery`, default the runbook's `rate(http_requests_total…)` for 5xx in the
     * namespace over 1m) and the rate above which the deploy rolls back (`errorRateThreshold`,
     * default 0.1/s). Unset `prometheusUrl`: the watch reads readiness and restarts only.
     */
    errorRate?: { prometheusUrl: string; query: string; threshold: number };
    /** Registry host (and path) the images are pulled from. */
    imageRegistry: string;
    webUrl: string;
    apiUrl: string;
    keycloak: { url: string; realm: string; clientId: string };
    database: {
        host: string;
        port: number;
        name: string;
        /** Role that owns the database and runs migrations; the apps log in as it. */
        user: string;
        /** Role the postgresql provider creates the database and role with. */
        adminUser: string;
        /** libpq/lib/pq `sslmode`. */
        sslMode: SslMode;
        /**
         * The database host the apps' pods are given (`DATABASE_HOST`), when they reach it at
         * another address than the machine running Pulumi does (`dbHostForPods`; default `host`).
         */
        podHost: string;
    };
    /** Folder (on the machine running Pulumi) where pre-migration backups are kept. */
    backupDir: string;
    /**
     * S3-compatible store (the team's MinIO) each backup is uploaded to; unset means local only.
     * `monthlyKeepMonths`: the first backup of each calendar month (UTC) is also kept under
     * `monthly/` for that many months (`backupMonthlyKeepMonths`; default 12 in prod, 0 = none
     * elsewhere); `coldStorageClass`: the class those copies move to (`backupColdStorageClass`,
     * default GLACIER; undefined for `none`).
     */
    backupUpload?: { endpoint: string; bucket: string; region: string; monthlyKeepMonths: number; coldStorageClass?: string };
    /**
     * The stack keeps its backups on the machine running Pulumi on purpose (`backupLocalOnly`): no
     * store is set and none is wanted. A prod stack without a store is refused unless this is set.
     * Default false.
     */
    backupLocalOnly: boolean;
    /** Migration version to apply (three digits); undefined means the newest file. */
    migrationTarget?: string;
    /**
     * Keep the migrations where the stack's last update left them (its `migrationVersion` output),
     * whatever `migrationTarget` or the checkout's `migrations/` say: no backup, no migration. Set
     * by every rollback's update; a deploy's release step sets it back to false. Default false.
     */
    holdMigrations: boolean;
    /**
     * Health checks and resources of each app's containers (components/colorDeployment.ts): the
     * startup and readiness probes call `healthPath` (it may check the database); liveness only
     * checks that the process accepts connections, so a database blip never restarts pods.
     */
    probes: {
        /** Seconds a new pod has to pass its first health check (startup probe) before it is restarted. */
        startupTimeoutSeconds: number;
        /** Failed readiness checks in a row before a pod leaves its Services. */
        readinessFailureThreshold: number;
        /** Failed liveness checks (TCP) in a row before a container is restarted. */
        livenessFailureThreshold: number;
    };
    /** Per app: the readiness/startup path and the container resources. */
    apps: Record<"api" | "web", { healthPath: string; resources: ContainerResources }>;
    /**
     * How long a color's pods may take to become ready in a release or a switch before the update
     * fails (and the live Service stays where it is). Seconds; default 300.
     */
    readinessTimeoutSeconds: number;
    /**
     * Seconds between the live Services leaving a color and that color's scale-down to 0 in the same
     * update (a plain `pulumi up` switch with the old color cold): kube-proxy's time to stop sending it
     * connections. Default 10; 0 scales down at once.
     */
    scaleDownDelaySeconds: number;
    /**
     * How a color's pod stops (released with the color, like probes): `preStopSleepSeconds`, how long
     * it keeps running and serving after Kubernetes decides to stop it, before its process gets
     * SIGTERM (`lifecycle.preStop.sleep`: every node's kube-proxy stops sending it new connections
     * meanwhile; 0: no preStop), and `terminationGracePeriodSeconds`, the whole time it has before it
     * is killed (the sleep included). Defaults 5 and 35.
     */
    shutdown: ShutdownSettings;
    /**
     * Where the apps' pods run and how their images are found (`podNodeLabel`, `imagePullPolicy`):
     * `node`, a `key=value` label the pods select and whose NoSchedule taint (same key and value)
     * they tolerate; `imagePullPolicy` for every app container. Unset: Kubernetes' defaults (any
     * node, pull policy by tag). The local stack on the real node (docs/node.md) sets
     * `physioflow.dev/node=real` and `Never` (its images are imported, no registry is reachable).
     */
    pods: { node?: { key: string; value: string }; imagePullPolicy?: PullPolicy };
    kubernetes: { kubeconfig?: string; context?: string; renderYamlToDirectory?: string };
}

/** A container's `imagePullPolicy`. */
export type PullPolicy = "Always" | "IfNotPresent" | "Never";
const pullPolicies: readonly PullPolicy[] = ["Always", "IfNotPresent", "Never"];

/** Container resources: requests and limits of cpu and memory (Kubernetes quantities). */
export interface ContainerResources {
    requests: { cpu: string; memory: string };
    limits: { cpu?: string; memory: string };
}

/** A configuration mistake, worded as one line that names the key, the value and what is allowed. */
export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** Raw `physioflow:*` values as read from the stack, keys without the namespace. */
export type RawConfig = Record<string, string | undefined>;

/** The secrets a stack must have; each is set with `pulumi config set --secret <key> <value>`. */
export const requiredSecrets = ["dbPassword", "dbAdminPassword", "blueDbPassword", "greenDbPassword"] as const;
/** Secrets needed only when `backupS3Endpoint` is set. */
export const uploadSecrets = ["backupS3AccessKeyId", "backupS3SecretAccessKey"] as const;

const plainKeys = [
    "environment",
    "namespace",
    "activeColor",
    "blueTag",
    "greenTag",
    "replicas",
    "inactiveReplicas",
    "inactiveWarm",
    "importExisting",
    "importObjects",
    "smokeImage",
    "smokeChecks",
    "notifyWebhookUrl",
    "prometheusUrl",
    "errorRateQuery",
    "errorRateThreshold",
    "apiHealthPath",
    "webHealthPath",
    "apiResources",
    "webResources",
    "startupTimeoutSeconds",
    "readinessFailureThreshold",
    "livenessFailureThreshold",
    "imageRegistry",
    "webUrl",
    "apiUrl",
    "keycloakUrl",
    "keycloakRealm",
    "keycloakClientId",
    "dbHost",
    "dbPort",
    "dbName",
    "dbUser",
    "dbAdminUser",
    "dbSslMode",
    "dbHostForPods",
    "backupDir",
    "backupS3Endpoint",
    "backupS3Bucket",
    "backupS3Region",
    "backupLocalOnly",
    "backupMonthlyKeepMonths",
    "backupColdStorageClass",
    "migrationTarget",
    "holdMigrations",
    "readinessTimeoutSeconds",
    "scaleDownDelaySeconds",
    "preStopSleepSeconds",
    "terminationGracePeriodSeconds",
    "podNodeLabel",
    "imagePullPolicy",
    "kubeconfig",
    "kubeContext",
    "renderYamlTo",
];
/** Every key this program reads; anything else under `physioflow:` is a typo. */
export const knownKeys: readonly string[] = [...plainKeys, ...requiredSecrets, ...uploadSecrets];

const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const versionPattern = /^\d{3}$/;
const urlPattern = /^https?:\/\/[^\s/]+(\/\S*)?$/;
/** registry/path/name:tag, the tag required so a smoke test is pinned like the apps. */
const imagePattern = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** An image with POSIX sh and curl; set smokeImage to a copy in the team's registry. */
export const defaultSmokeImage = "curlimages/curl:8.11.1";
/** The runbook's smoke test: the API's health and the web root. */
export const defaultSmokeChecks = "api:/health=200,web:/=200";
const registryPattern = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/;

/** `importObjects`: a comma-separated list of {@link namedObjects}, only beside `importExisting: true`. */
function parseImportObjects(value: string | undefined, importExisting: boolean): string[] {
    if (value === undefined || value === "") return [];
    if (!importExisting) {
        throw new ConfigError(`physioflow:importObjects is set without importExisting: true; npx physioflow import <stack> sets both for one update`);
    }
    const objects = value.split(",");
    const named = namedObjects();
    const unknown = objects.find(object => !named.includes(object));
    if (unknown !== undefined) {
        throw new ConfigError(`physioflow:importObjects lists "${unknown}"; it may list only objects the program names: ${named.join(", ")}`);
    }
    return objects;
}

/**
 * Validates raw stack values into a {@link StackConfig}. Pure: throws {@link ConfigError} on the
 * first bad value, so a preview stops before any resource is touched.
 */
export function parseStackConfig(raw: RawConfig): StackConfig {
    for (const key of Object.keys(raw)) {
        if (!knownKeys.includes(key)) {
            throw new ConfigError(`physioflow:${key} is not a setting this program reads; known keys: ${knownKeys.join(", ")}`);
        }
    }
    const environment = oneOf(raw, "environment", environments);
    const activeColor: Color = oneOf(raw, "activeColor", colors);
    const inactiveColor = otherColor(activeColor);

    const activeTag = raw[`${activeColor}Tag`];
    if (activeTag === undefined || activeTag.trim() === "") {
        throw new ConfigError(
            `physioflow:${activeColor}Tag is ${describe(activeTag)} but ${activeColor} is the active color and needs an image tag (pulumi config set ${activeColor}Tag v1.2.3)`,
        );
    }
    // An unset inactive tag means both colors run the active release (e.g. on a first deploy).
    const inactiveTag = raw[`${inactiveColor}Tag`] ?? activeTag;
    const tags = { [activeColor]: activeTag, [inactiveColor]: inactiveTag } as Record<Color, string>;
    for (const color of [activeColor, inactiveColor]) {
        checkTag(`${color}Tag`, tags[color], environment);
    }

    const replicas = integer(raw, "replicas", 1, 1);
    const inactiveReplicas = integer(raw, "inactiveReplicas", 0, 0);
    const inactiveWarm = raw.inactiveWarm === undefined ? false : oneOf(raw, "inactiveWarm", ["true", "false"]) === "true";
    const importExisting = raw.importExisting === undefined ? false : oneOf(raw, "importExisting", ["true", "false"]) === "true";
    const importObjects = parseImportObjects(raw.importObjects, importExisting);
    let smokeChecks: SmokeCheck[];
    try {
        smokeChecks = parseSmokeChecks(raw.smokeChecks ?? defaultSmokeChecks);
    } catch (err) {
        throw new ConfigError(`physioflow:smokeChecks is "${raw.smokeChecks}"; ${(err as Error).message}`);
    }
    const namespace = raw.namespace ?? `physioflow-${environment}`;
    if (!dnsLabelPattern.test(namespace)) {
        throw new ConfigError(`physioflow:namespace is "${namespace}"; it must be a DNS label (lowercase letters, digits, '-')`);
    }
    const backupDir = raw.backupDir ?? `$HOME/physioflow-backups/${environment}`;
    if (!/^[A-Za-z0-9_./$-]+$/.test(backupDir)) {
        throw new ConfigError(`physioflow:backupDir is "${backupDir}"; use a path of letters, digits and _ . / - ($HOME allowed), no spaces or quotes`);
    }
    const errorRate = parseErrorRate(raw, namespace);
    const backupLocalOnly = raw.backupLocalOnly === undefined ? false : oneOf(raw, "backupLocalOnly", ["true", "false"]) === "true";
    checkBackupStore(raw, environment, backupLocalOnly);
    const migrationTarget = raw.migrationTarget;
    if (migrationTarget !== undefined && !versionPattern.test(migrationTarget)) {
        throw new ConfigError(`physioflow:migrationTarget is "${migrationTarget}"; it must be a three-digit migration version like 015`);
    }

    return {
        environment,
        namespace,
        activeColor,
        inactiveColor,
        tags,
        replicas,
        inactiveReplicas,
        inactiveWarm,
        importExisting,
        importObjects,
        smoke: {
            image: matching(raw, "smokeImage", imagePattern, "an image reference with a tag, e.g. curlimages/curl:8.11.1", defaultSmokeImage),
            checks: smokeChecks,
        },
        notifyWebhookUrl: raw.notifyWebhookUrl === undefined ? undefined : matching(raw, "notifyWebhookUrl", urlPattern, "an http(s) URL"),
        errorRate,
        imageRegistry: matching(raw, "imageRegistry", registryPattern, "a registry host with an optional port and path, e.g. registry.example.com"),
        webUrl: matching(raw, "webUrl", urlPattern, "an http(s) URL"),
        apiUrl: matching(raw, "apiUrl", urlPattern, "an http(s) URL"),
        keycloak: {
            url: matching(raw, "keycloakUrl", urlPattern, "an http(s) URL"),
            realm: required(raw, "keycloakRealm"),
            clientId: required(raw, "keycloakClientId"),
        },
        database: {
            host: required(raw, "dbHost"),
            podHost: raw.dbHostForPods === undefined ? required(raw, "dbHost") : matching(raw, "dbHostForPods", hostPattern, "a host name or IP address"),
            port: integer(raw, "dbPort", 5432, 1, 65535),
            name: required(raw, "dbName"),
            user: required(raw, "dbUser"),
            adminUser: raw.dbAdminUser ?? "postgres",
            sslMode: raw.dbSslMode === undefined ? "require" : oneOf(raw, "dbSslMode", sslModes),
        },
        // Expanded by the shell that runs the backup, so the stack does not depend on who runs it.
        backupDir,
        backupUpload: parseBackupUpload(raw, environment),
        backupLocalOnly,
        migrationTarget,
        holdMigrations: raw.holdMigrations === undefined ? false : oneOf(raw, "holdMigrations", ["true", "false"]) === "true",
        readinessTimeoutSeconds: integer(raw, "readinessTimeoutSeconds", 300, 10, 3600),
        scaleDownDelaySeconds: integer(raw, "scaleDownDelaySeconds", 10, 0, 600),
        shutdown: parseShutdown(raw),
        probes: {
            startupTimeoutSeconds: integer(raw, "startupTimeoutSeconds", 120, 10, 3600),
            readinessFailureThreshold: integer(raw, "readinessFailureThreshold", 3, 1, 30),
            livenessFailureThreshold: integer(raw, "livenessFailureThreshold", 3, 1, 30),
        },
        apps: {
            api: { healthPath: matching(raw, "apiHealthPath", pathPattern, "a path like /health", "/health"), resources: parseResources(raw, "apiResources") },
            web: { healthPath: matching(raw, "webHealthPath", pathPattern, "a path like /", "/"), resources: parseResources(raw, "webResources") },
        },
        pods: {
            ...(raw.podNodeLabel === undefined ? {} : { node: parseNodeLabel(raw.podNodeLabel) }),
            ...(raw.imagePullPolicy === undefined ? {} : { imagePullPolicy: oneOf(raw, "imagePullPolicy", pullPolicies) }),
        },
        kubernetes: { kubeconfig: raw.kubeconfig, context: raw.kubeContext, renderYamlToDirectory: raw.renderYamlTo },
    };
}

const hostPattern = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
/** A label's key (an optional DNS prefix and `/`, then a name) and value, as Kubernetes allows them. */
const labelKeyPattern = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** `podNodeLabel`: `key=value`, both as Kubernetes allows them in a label. */
function parseNodeLabel(text: string): { key: string; value: string } {
    const at = text.indexOf("=");
    const key = text.slice(0, at);
    const value = text.slice(at + 1);
    if (at <= 0 || !labelKeyPattern.test(key) || !labelValuePattern.test(value)) {
        throw new ConfigError(`physioflow:podNodeLabel is "${text}"; it must be a node label as key=value, e.g. physioflow.dev/node=real`);
    }
    return { key, value };
}

/**
 * The default `errorRateQuery` for a namespace: the runbook's `rate(http_requests_total[5m])`,
 * 5xx only, summed, over 1 minute instead of 5. rate() divides by its whole window, and the new
 * color's pods are new series: for a window's length after a switch their rate reads low by
 * (time since the switch) / (window), so over 5 minutes a watch of a few minutes would see a
 * fifth of a breach after one minute; over 1 minute it sees all of it.
 */
export function defaultErrorRateQuery(namespace: string): string {
    return `sum(rate(http_requests_total{namespace="${namespace}",code=~"5.."}[1m]))`;
}

/** The containers' resources unless a stack sets `apiResources`/`webResources`. */
export const defaultResources = "requests.cpu=100m,requests.memory=128Mi,limits.cpu=500m,limits.memory=512Mi";
const quantityPattern = /^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
const pathPattern = /^\/[A-Za-z0-9._~/-]*$/;

/**
 * `requests.cpu=100m,requests.memory=128Mi,limits.memory=512Mi` (`limits.cpu` optional): keys
 * not given keep their default; a memory limit below its request is refused.
 */
function parseResources(raw: RawConfig, key: string): ContainerResources {
    const values: Record<string, string> = {};
    for (const part of defaultResources.split(",")) values[part.split("=")[0]] = part.split("=")[1];
    const text = raw[key];
    if (text !== undefined) {
        for (const part of text.split(",")) {
            // No "=": an empty quantity, which the pattern refuses.
            // Stryker disable next-line StringLiteral: any default that is not a quantity is refused the same way; "" only gives the type
            const [name, value = "", extra] = part.trim().split("=");
            if (!["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"].includes(name) || extra !== undefined || !quantityPattern.test(value)) {
                throw new ConfigError(
                    `physioflow:${key} is "${text}"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi`,
                );
            }
            values[name] = value;
        }
    }
    return {
        requests: { cpu: values["requests.cpu"], memory: values["requests.memory"] },
        limits: { cpu: values["limits.cpu"], memory: values["limits.memory"] },
    };
}

/** The watch's error-rate settings: all three, or none (the query and threshold need the URL). */
export function parseErrorRate(raw: RawConfig, namespace: string): StackConfig["errorRate"] {
    if (raw.prometheusUrl === undefined) {
        for (const key of ["errorRateQuery", "errorRateThreshold"]) {
            if (raw[key] !== undefined)
                throw new ConfigError(`physioflow:${key} is set but physioflow:prometheusUrl is not; set prometheusUrl too, or remove ${key}`);
        }
        return undefined;
    }
    const prometheusUrl = matching(raw, "prometheusUrl", urlPattern, "an http(s) URL of the Prometheus server, e.g. http://prometheus.example:9090");
    const query = raw.errorRateQuery ?? defaultErrorRateQuery(namespace);
    if (query.trim() === "") {
        throw new ConfigError(`physioflow:errorRateQuery is "${query}"; it must be a PromQL query such as sum(rate(http_requests_total{code=~"5.."}[1m]))`);
    }
    const threshold = raw.errorRateThreshold === undefined ? 0.1 : Number(raw.errorRateThreshold);
    if (raw.errorRateThreshold !== undefined && (raw.errorRateThreshold.trim() === "" || !Number.isFinite(threshold) || threshold < 0)) {
        throw new ConfigError(`physioflow:errorRateThreshold is "${raw.errorRateThreshold}"; it must be a number of errors per second, 0 or more (e.g. 0.1)`);
    }
    return { prometheusUrl, query, threshold };
}

/** Environments whose backups must leave the machine unless `backupLocalOnly` says otherwise (runbook appendix C). */
const storedEnvironments: readonly Environment[] = ["prod"];

/**
 * A store and `backupLocalOnly` contradict each other; prod without a store must say local-only on
 * purpose: otherwise its only copies would sit on whichever machine ran `pulumi up`.
 */
function checkBackupStore(raw: RawConfig, environment: Environment, localOnly: boolean): void {
    if (raw.backupS3Endpoint !== undefined && localOnly) {
        throw new ConfigError(
            `physioflow:backupLocalOnly is "true" but physioflow:backupS3Endpoint is set to "${raw.backupS3Endpoint}"; remove one: backups go to the store, or stay local on purpose`,
        );
    }
    if (raw.backupS3Endpoint === undefined && !localOnly && storedEnvironments.includes(environment)) {
        throw new ConfigError(
            `physioflow:backupS3Endpoint is not set, so ${environment}'s backups would stay on the machine running pulumi up alone; set backupS3Endpoint and backupS3Bucket ` +
                `(and the secrets backupS3AccessKeyId, backupS3SecretAccessKey), or pulumi config set backupLocalOnly true to keep its backups local on purpose`,
        );
    }
}

/** The store's settings, with the monthly copies' (which need a store). */
function parseBackupUpload(raw: RawConfig, environment: Environment): StackConfig["backupUpload"] {
    if (raw.backupS3Endpoint === undefined) {
        for (const key of ["backupMonthlyKeepMonths", "backupColdStorageClass"]) {
            if (raw[key] !== undefined)
                throw new ConfigError(
                    `physioflow:${key} is set but physioflow:backupS3Endpoint is not; monthly copies are kept in the store: set it too, or remove ${key}`,
                );
        }
        return undefined;
    }
    const coldStorageClass = matching(
        raw,
        "backupColdStorageClass",
        coldStorageClassPattern,
        "a storage class such as GLACIER (capitals, digits, _) or none",
        DEFAULT_COLD_STORAGE_CLASS,
    );
    return {
        endpoint: matching(raw, "backupS3Endpoint", urlPattern, "an http(s) URL of the S3-compatible store"),
        bucket: required(raw, "backupS3Bucket"),
        region: raw.backupS3Region ?? "us-east-1",
        monthlyKeepMonths: integer(raw, "backupMonthlyKeepMonths", storedEnvironments.includes(environment) ? DEFAULT_MONTHLY_KEEP_MONTHS : 0, 0, 120),
        ...(coldStorageClass === "none" ? {} : { coldStorageClass }),
    };
}

const coldStorageClassPattern = /^([A-Z][A-Z0-9_]*|none)$/;

/** Refuses a stack that lacks one of {@link requiredSecrets} (or of {@link uploadSecrets} when uploading). */
export function checkSecretsPresent(present: (key: string) => boolean, settings?: StackConfig): void {
    const needed: readonly string[] = settings?.backupUpload ? [...requiredSecrets, ...uploadSecrets] : requiredSecrets;
    for (const key of needed) {
        if (!present(key)) {
            throw new ConfigError(`physioflow:${key} is not set; set it as a secret: pulumi config set --secret ${key} <value>`);
        }
    }
}

function checkTag(key: string, tag: string, environment: Environment): void {
    if (!tagPattern.test(tag)) {
        throw new ConfigError(
            `physioflow:${key} is "${tag}", not a valid image tag; use letters, digits, '_', '.', '-' (max 128, not starting with '.' or '-'), e.g. v1.2.3`,
        );
    }
    if (tag === "latest" && pinnedEnvironments.includes(environment)) {
        throw new ConfigError(
            `physioflow:${key} is "latest", which is not allowed in ${environment}: pin a release tag such as v1.2.3 so a rollback returns to known code`,
        );
    }
}

function describe(value: string | undefined): string {
    return value === undefined ? "not set" : `"${value}"`;
}

function required(raw: RawConfig, key: string): string {
    const value = raw[key];
    if (value === undefined || value.trim() === "") {
        throw new ConfigError(`physioflow:${key} is ${describe(value)}; it is required (pulumi config set ${key} <value>)`);
    }
    return value;
}

function oneOf<T extends string>(raw: RawConfig, key: string, allowed: readonly T[]): T {
    const value = raw[key];
    if (value === undefined || !(allowed as readonly string[]).includes(value)) {
        throw new ConfigError(`physioflow:${key} is ${describe(value)}; allowed values: ${allowed.join(", ")}`);
    }
    return value as T;
}

function matching(raw: RawConfig, key: string, pattern: RegExp, what: string, fallback?: string): string {
    const value = fallback !== undefined && raw[key] === undefined ? fallback : required(raw, key);
    if (!pattern.test(value)) {
        throw new ConfigError(`physioflow:${key} is "${value}"; it must be ${what}`);
    }
    return value;
}

/** How a color's pods stop ({@link StackConfig.shutdown}). */
export interface ShutdownSettings {
    preStopSleepSeconds: number;
    terminationGracePeriodSeconds: number;
}

function parseShutdown(raw: RawConfig): ShutdownSettings {
    const preStopSleepSeconds = integer(raw, "preStopSleepSeconds", 5, 0, 300);
    const terminationGracePeriodSeconds = integer(raw, "terminationGracePeriodSeconds", preStopSleepSeconds + 30, 1, 3600);
    if (terminationGracePeriodSeconds <= preStopSleepSeconds) {
        throw new ConfigError(
            `physioflow:terminationGracePeriodSeconds is ${terminationGracePeriodSeconds}; it must be above preStopSleepSeconds (${preStopSleepSeconds}), or the pods are killed before they get SIGTERM`,
        );
    }
    return { preStopSleepSeconds, terminationGracePeriodSeconds };
}

function integer(raw: RawConfig, key: string, fallback: number, min: number, max = 1000): number {
    const value = raw[key];
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
        throw new ConfigError(`physioflow:${key} is "${value}"; it must be a whole number from ${min} to ${max}`);
    }
    return n;
}
