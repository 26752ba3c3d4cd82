import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    checkSecretsPresent,
    ConfigError,
    defaultResources,
    knownKeys,
    parseErrorRate,
    parseStackConfig,
    RawConfig,
    StackConfig,
} from "../../components/config";
import { namedObjects } from "../../components/appNames";
import { plainValues } from "../../components/loadConfig";
import { runProgram, stackConfigWithSecrets, stackFileConfig } from "../support/programRun";

/** A stack file's plain settings as the parser sees them, with overrides (undefined removes a key). */
function raw(stack: string, overrides: Record<string, string | undefined> = {}): RawConfig {
    const values = { ...plainValues(stackFileConfig(stack)), ...overrides };
    return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/** A complete, valid stack with only the required settings (like Pulumi.dev.yaml), with overrides; undefined removes a key. */
function minimalStack(overrides: Record<string, string | undefined> = {}): RawConfig {
    const values: Record<string, string | undefined> = {
        environment: "dev",
        activeColor: "blue",
        blueTag: "v1.2.2",
        imageRegistry: "registry.example.com",
        webUrl: "https://physioflow.example.com",
        apiUrl: "https://physioflow.example.com/api",
        keycloakUrl: "https://keycloak.example.com",
        keycloakRealm: "physioflow-dev",
        keycloakClientId: "physioflow-web",
        dbHost: "10.0.0.5",
        dbName: "physioflow_dev",
        dbUser: "emr",
        ...overrides,
    };
    return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function accepted(overrides: Record<string, string | undefined>): StackConfig {
    return parseStackConfig(minimalStack(overrides));
}

/** parseStackConfig must refuse `config` with a ConfigError of exactly `message`, on one line. */
function refused(config: RawConfig, message: string): void {
    assert.throws(
        () => parseStackConfig(config),
        (err: Error) => {
            assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
            assert.strictEqual(err.name, "ConfigError");
            assert.strictEqual(err.message, message);
            assert.ok(!err.message.includes("\n"), "one line");
            return true;
        },
    );
}

describe("stack config: the repo's stack files", () => {
    it("reads every stack file in the repo", () => {
        for (const stack of ["dev", "staging", "prod"]) {
            const settings = parseStackConfig(raw(stack));
            assert.strictEqual(settings.environment, stack);
            assert.strictEqual(settings.namespace, `physioflow-${stack}`);
            assert.strictEqual(settings.database.user, "emr");
            assert.strictEqual(settings.database.port, 5432);
        }
        assert.strictEqual(parseStackConfig(raw("prod")).replicas, 2);
        assert.strictEqual(parseStackConfig(raw("dev")).replicas, 1);
    });

    it("refuses an activeColor that is not blue or green", () => {
        refused(raw("dev", { activeColor: "purple" }), 'physioflow:activeColor is "purple"; allowed values: blue, green');
        refused(raw("dev", { activeColor: undefined }), "physioflow:activeColor is not set; allowed values: blue, green");
    });

    it("refuses a missing or empty tag for the active color", () => {
        refused(
            raw("dev", { activeColor: "green", greenTag: undefined }),
            "physioflow:greenTag is not set but green is the active color and needs an image tag (pulumi config set greenTag v1.2.3)",
        );
        refused(
            raw("dev", { blueTag: "  " }),
            'physioflow:blueTag is "  " but blue is the active color and needs an image tag (pulumi config set blueTag v1.2.3)',
        );
    });

    it("refuses a malformed tag on either color", () => {
        const why = "not a valid image tag; use letters, digits, '_', '.', '-' (max 128, not starting with '.' or '-'), e.g. v1.2.3";
        refused(raw("dev", { greenTag: "v1.2.3:bad" }), `physioflow:greenTag is "v1.2.3:bad", ${why}`);
        refused(raw("dev", { blueTag: "-v1" }), `physioflow:blueTag is "-v1", ${why}`);
        refused(raw("dev", { blueTag: "a".repeat(129) }), `physioflow:blueTag is "${"a".repeat(129)}", ${why}`);
        refused(raw("dev", { greenTag: "registry.example.com/physioflow-api:v1" }), `physioflow:greenTag is "registry.example.com/physioflow-api:v1", ${why}`);
    });

    it("refuses latest in staging and prod, on either color, but allows it in dev", () => {
        for (const stack of ["staging", "prod"]) {
            refused(
                raw(stack, { greenTag: "latest" }),
                `physioflow:greenTag is "latest", which is not allowed in ${stack}: pin a release tag such as v1.2.3 so a rollback returns to known code`,
            );
            refused(
                raw(stack, { blueTag: "latest" }),
                `physioflow:blueTag is "latest", which is not allowed in ${stack}: pin a release tag such as v1.2.3 so a rollback returns to known code`,
            );
        }
        assert.strictEqual(parseStackConfig(raw("dev", { blueTag: "latest" })).tags.blue, "latest");
    });

    it("refuses fewer than 1 replica for the active color, and negative inactive replicas", () => {
        refused(raw("prod", { replicas: "0" }), 'physioflow:replicas is "0"; it must be a whole number from 1 to 1000');
        refused(raw("prod", { replicas: "two" }), 'physioflow:replicas is "two"; it must be a whole number from 1 to 1000');
        refused(raw("prod", { inactiveReplicas: "-1" }), 'physioflow:inactiveReplicas is "-1"; it must be a whole number from 0 to 1000');
    });

    it("refuses other bad values with the key named", () => {
        refused(raw("dev", { environment: "qa" }), 'physioflow:environment is "qa"; allowed values: dev, staging, prod, local');
        refused(raw("dev", { namespace: "Physio_Dev" }), `physioflow:namespace is "Physio_Dev"; it must be a DNS label (lowercase letters, digits, '-')`);
        refused(raw("dev", { migrationTarget: "15" }), 'physioflow:migrationTarget is "15"; it must be a three-digit migration version like 015');
        refused(raw("dev", { webUrl: "physioflow.example" }), 'physioflow:webUrl is "physioflow.example"; it must be an http(s) URL');
        refused(raw("dev", { dbName: undefined }), "physioflow:dbName is not set; it is required (pulumi config set dbName <value>)");
        refused(raw("dev", { dbPort: "99999" }), 'physioflow:dbPort is "99999"; it must be a whole number from 1 to 65535');
        refused(raw("dev", { dbSslMode: "prefer" }), 'physioflow:dbSslMode is "prefer"; allowed values: disable, require, verify-ca, verify-full');
        refused(raw("dev", { readinessTimeoutSeconds: "5" }), 'physioflow:readinessTimeoutSeconds is "5"; it must be a whole number from 10 to 3600');
        refused(raw("dev", { notifyWebhookUrl: "hooks.example.test/x" }), 'physioflow:notifyWebhookUrl is "hooks.example.test/x"; it must be an http(s) URL');
        refused(raw("dev", { inactiveWarm: "yes" }), 'physioflow:inactiveWarm is "yes"; allowed values: true, false');
        refused(
            raw("dev", { smokeImage: "curlimages/curl" }),
            'physioflow:smokeImage is "curlimages/curl"; it must be an image reference with a tag, e.g. curlimages/curl:8.11.1',
        );
        refused(
            raw("dev", { smokeChecks: "api:/health" }),
            'physioflow:smokeChecks is "api:/health"; "api:/health" is not app:path=status, e.g. api:/health=200',
        );
        refused(
            raw("dev", { backupDir: "/tmp/x; rm -rf /" }),
            'physioflow:backupDir is "/tmp/x; rm -rf /"; use a path of letters, digits and _ . / - ($HOME allowed), no spaces or quotes',
        );
    });

    it("the watch's error rate: none without prometheusUrl; with it, the 5xx rate of the namespace over 1m and 0.1/s by default; bad values refused", () => {
        assert.strictEqual(parseStackConfig(raw("prod")).errorRate, undefined);
        assert.deepStrictEqual(parseStackConfig(raw("prod", { prometheusUrl: "http://prometheus.example:9090" })).errorRate, {
            prometheusUrl: "http://prometheus.example:9090",
            query: 'sum(rate(http_requests_total{namespace="physioflow-prod",code=~"5.."}[1m]))',
            threshold: 0.1,
        });
        assert.deepStrictEqual(
            parseStackConfig(raw("dev", { prometheusUrl: "https://p.example/prom", errorRateQuery: "sum(rate(x[5m]))", errorRateThreshold: "0" })).errorRate,
            { prometheusUrl: "https://p.example/prom", query: "sum(rate(x[5m]))", threshold: 0 },
        );
        refused(
            raw("dev", { prometheusUrl: "prometheus:9090" }),
            'physioflow:prometheusUrl is "prometheus:9090"; it must be an http(s) URL of the Prometheus server, e.g. http://prometheus.example:9090',
        );
        refused(
            raw("dev", { errorRateThreshold: "0.5" }),
            "physioflow:errorRateThreshold is set but physioflow:prometheusUrl is not; set prometheusUrl too, or remove errorRateThreshold",
        );
        refused(
            raw("dev", { errorRateQuery: "up" }),
            "physioflow:errorRateQuery is set but physioflow:prometheusUrl is not; set prometheusUrl too, or remove errorRateQuery",
        );
        for (const bad of ["abc", "-1", "", "Infinity"]) {
            refused(
                raw("dev", { prometheusUrl: "http://p.example", errorRateThreshold: bad }),
                `physioflow:errorRateThreshold is "${bad}"; it must be a number of errors per second, 0 or more (e.g. 0.1)`,
            );
        }
        refused(
            raw("dev", { prometheusUrl: "http://p.example", errorRateQuery: " " }),
            'physioflow:errorRateQuery is " "; it must be a PromQL query such as sum(rate(http_requests_total{code=~"5.."}[1m]))',
        );
    });

    it("probes and resources per stack: defaults, overrides, and bad values refused", () => {
        const defaults = parseStackConfig(raw("prod"));
        assert.deepStrictEqual(defaults.probes, { startupTimeoutSeconds: 120, readinessFailureThreshold: 3, livenessFailureThreshold: 3 });
        assert.deepStrictEqual(defaults.apps.api, {
            healthPath: "/health",
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
        });
        assert.strictEqual(defaults.apps.web.healthPath, "/");
        const set = parseStackConfig(
            raw("prod", {
                apiHealthPath: "/health/ready",
                startupTimeoutSeconds: "300",
                readinessFailureThreshold: "5",
                livenessFailureThreshold: "6",
                apiResources: "requests.cpu=250m,limits.memory=1Gi",
            }),
        );
        assert.deepStrictEqual(set.probes, { startupTimeoutSeconds: 300, readinessFailureThreshold: 5, livenessFailureThreshold: 6 });
        assert.deepStrictEqual(set.apps.api, {
            healthPath: "/health/ready",
            resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
        });
        refused(
            raw("dev", { apiResources: "cpu=1" }),
            'physioflow:apiResources is "cpu=1"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi',
        );
        refused(
            raw("dev", { webResources: "limits.memory=lots" }),
            'physioflow:webResources is "limits.memory=lots"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi',
        );
        refused(raw("dev", { apiHealthPath: "health" }), 'physioflow:apiHealthPath is "health"; it must be a path like /health');
        refused(raw("dev", { livenessFailureThreshold: "0" }), 'physioflow:livenessFailureThreshold is "0"; it must be a whole number from 1 to 30');
        refused(raw("dev", { startupTimeoutSeconds: "5" }), 'physioflow:startupTimeoutSeconds is "5"; it must be a whole number from 10 to 3600');
    });
});

describe("stack config: every default of a minimal stack", () => {
    it("is exactly this", () => {
        assert.deepStrictEqual(accepted({}), {
            environment: "dev",
            namespace: "physioflow-dev",
            activeColor: "blue",
            inactiveColor: "green",
            tags: { blue: "v1.2.2", green: "v1.2.2" },
            replicas: 1,
            inactiveReplicas: 0,
            inactiveWarm: false,
            importExisting: false,
            importObjects: [],
            smoke: {
                image: "curlimages/curl:8.11.1",
                checks: [
                    { app: "api", path: "/health", status: 200 },
                    { app: "web", path: "/", status: 200 },
                ],
            },
            notifyWebhookUrl: undefined,
            errorRate: undefined,
            imageRegistry: "registry.example.com",
            webUrl: "https://physioflow.example.com",
            apiUrl: "https://physioflow.example.com/api",
            keycloak: { url: "https://keycloak.example.com", realm: "physioflow-dev", clientId: "physioflow-web" },
            database: { host: "10.0.0.5", podHost: "10.0.0.5", port: 5432, name: "physioflow_dev", user: "emr", adminUser: "postgres", sslMode: "require" },
            backupDir: "$HOME/physioflow-backups/dev",
            backupUpload: undefined,
            backupLocalOnly: false,
            migrationTarget: undefined,
            holdMigrations: false,
            readinessTimeoutSeconds: 300,
            scaleDownDelaySeconds: 10,
            shutdown: { preStopSleepSeconds: 5, terminationGracePeriodSeconds: 35 },
            probes: { startupTimeoutSeconds: 120, readinessFailureThreshold: 3, livenessFailureThreshold: 3 },
            apps: {
                api: { healthPath: "/health", resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } } },
                web: { healthPath: "/", resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } } },
            },
            pods: {},
            kubernetes: { kubeconfig: undefined, context: undefined, renderYamlToDirectory: undefined },
        });
        assert.strictEqual(defaultResources, "requests.cpu=100m,requests.memory=128Mi,limits.cpu=500m,limits.memory=512Mi");
    });

    it("takes every optional setting as given", () => {
        const settings = accepted({
            environment: "local",
            namespace: "clinic-1",
            activeColor: "green",
            greenTag: "v2",
            blueTag: "v1",
            inactiveWarm: "false",
            notifyWebhookUrl: "http://hooks.example/x",
            dbPort: "6432",
            dbAdminUser: "admin",
            dbSslMode: "verify-full",
            backupDir: "/srv/backups/clinic_1.x",
            migrationTarget: "015",
            kubeconfig: "/k/config",
            kubeContext: "kind",
            renderYamlTo: "out",
            backupS3Endpoint: "http://127.0.0.1:8333",
            backupS3Bucket: "backups",
            smokeImage: "registry.example.com:5000/tools/curl:8",
        });
        assert.strictEqual(settings.namespace, "clinic-1");
        assert.deepStrictEqual(settings.tags, { blue: "v1", green: "v2" });
        assert.strictEqual(settings.inactiveColor, "blue");
        assert.strictEqual(settings.inactiveWarm, false);
        assert.strictEqual(accepted({ inactiveWarm: "true" }).inactiveWarm, true);
        assert.strictEqual(settings.notifyWebhookUrl, "http://hooks.example/x");
        assert.deepStrictEqual(settings.database, {
            host: "10.0.0.5",
            podHost: "10.0.0.5",
            port: 6432,
            name: "physioflow_dev",
            user: "emr",
            adminUser: "admin",
            sslMode: "verify-full",
        });
        assert.strictEqual(settings.backupDir, "/srv/backups/clinic_1.x");
        assert.strictEqual(settings.migrationTarget, "015");
        assert.deepStrictEqual(settings.kubernetes, { kubeconfig: "/k/config", context: "kind", renderYamlToDirectory: "out" });
        assert.deepStrictEqual(settings.backupUpload, {
            endpoint: "http://127.0.0.1:8333",
            bucket: "backups",
            region: "us-east-1",
            monthlyKeepMonths: 0,
            coldStorageClass: "GLACIER",
        });
        assert.strictEqual(settings.smoke.image, "registry.example.com:5000/tools/curl:8");
        assert.deepStrictEqual(accepted({ backupS3Endpoint: "https://s3.example", backupS3Bucket: "b", backupS3Region: "eu-1" }).backupUpload, {
            endpoint: "https://s3.example",
            bucket: "b",
            region: "eu-1",
            monthlyKeepMonths: 0,
            coldStorageClass: "GLACIER",
        });
        for (const mode of ["disable", "require", "verify-ca", "verify-full"]) {
            assert.strictEqual(accepted({ dbSslMode: mode }).database.sslMode, mode);
        }
        for (const environment of ["dev", "staging", "local"]) {
            assert.strictEqual(accepted({ environment }).environment, environment);
        }
        assert.strictEqual(accepted({ environment: "prod", backupLocalOnly: "true" }).environment, "prod");
        assert.strictEqual(accepted({ environment: "prod", backupS3Endpoint: "https://s3.example", backupS3Bucket: "b" }).environment, "prod");
    });
});

describe("stack config: where the pods run (the real node)", () => {
    it("podNodeLabel, imagePullPolicy and dbHostForPods: taken as given; bad values refused in one line", () => {
        const settings = accepted({ podNodeLabel: "physioflow.dev/node=real", imagePullPolicy: "Never", dbHostForPods: "10.250.0.1" });
        assert.deepStrictEqual(settings.pods, { node: { key: "physioflow.dev/node", value: "real" }, imagePullPolicy: "Never" });
        assert.strictEqual(settings.database.host, "10.0.0.5");
        assert.strictEqual(settings.database.podHost, "10.250.0.1");
        assert.deepStrictEqual(accepted({ podNodeLabel: "pool=" }).pods, { node: { key: "pool", value: "" } });
        for (const policy of ["Always", "IfNotPresent", "Never"]) assert.strictEqual(accepted({ imagePullPolicy: policy }).pods.imagePullPolicy, policy);
        for (const bad of ["real", "=real", "a b=c", "physioflow.dev/node=re al", "/node=real", "x=-y"]) {
            refused(
                minimalStack({ podNodeLabel: bad }),
                `physioflow:podNodeLabel is "${bad}"; it must be a node label as key=value, e.g. physioflow.dev/node=real`,
            );
        }
        refused(minimalStack({ imagePullPolicy: "never" }), `physioflow:imagePullPolicy is "never"; allowed values: Always, IfNotPresent, Never`);
        refused(minimalStack({ dbHostForPods: "db host" }), `physioflow:dbHostForPods is "db host"; it must be a host name or IP address`);
        refused(minimalStack({ dbHostForPods: "" }), `physioflow:dbHostForPods is ""; it is required (pulumi config set dbHostForPods <value>)`);
    });

    it("the API pods get dbHostForPods as DATABASE_HOST; the Deployments and both smoke Jobs select the label, tolerate its taint and carry the pull policy", async function () {
        this.timeout(60_000);
        const run = await runProgram("dev", {
            ...stackConfigWithSecrets("dev"),
            "physioflow:podNodeLabel": "physioflow.dev/node=real",
            "physioflow:imagePullPolicy": "Never",
            "physioflow:dbHostForPods": "10.250.0.1",
            "physioflow:inactiveWarm": "true",
        });
        const apiConfig = run.resources.find(r => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "physioflow-api-config-blue")!;
        assert.strictEqual(apiConfig.inputs.data.DATABASE_HOST, "10.250.0.1");
        for (const name of ["physioflow-api-blue", "physioflow-api-green", "physioflow-web-blue", "physioflow-web-green"]) {
            const pod = run.resources.find(r => r.type === "kubernetes:apps/v1:Deployment" && r.name === name)!.inputs.spec.template.spec;
            assert.deepStrictEqual(pod.nodeSelector, { "physioflow.dev/node": "real" }, name);
            assert.deepStrictEqual(pod.tolerations, [{ key: "physioflow.dev/node", operator: "Equal", value: "real", effect: "NoSchedule" }], name);
            assert.strictEqual(pod.containers[0].imagePullPolicy, "Never", name);
        }
        // The smoke Jobs run where the colors they check run: their curl needs the colors' Services, and their image is imported there.
        const jobs = run.resources.filter(r => r.type === "kubernetes:batch/v1:Job");
        assert.deepStrictEqual(jobs.map(j => j.name).sort(), ["physioflow-smoke-blue", "physioflow-smoke-green"]);
        for (const job of jobs) {
            const pod = job.inputs.spec.template.spec;
            assert.deepStrictEqual(pod.nodeSelector, { "physioflow.dev/node": "real" }, job.name);
            assert.deepStrictEqual(pod.tolerations, [{ key: "physioflow.dev/node", operator: "Equal", value: "real", effect: "NoSchedule" }], job.name);
            assert.strictEqual(pod.containers[0].imagePullPolicy, "Never", job.name);
        }
        // Unset (every stack file in the repo): no selector, no toleration, no pull policy, the database host as it is.
        const plain = await runProgram("dev", stackConfigWithSecrets("dev"));
        const placed = plain.resources.filter(r => r.type === "kubernetes:apps/v1:Deployment" || r.type === "kubernetes:batch/v1:Job");
        assert.strictEqual(placed.filter(r => r.type === "kubernetes:batch/v1:Job").length, 1);
        for (const resource of placed) {
            const pod = resource.inputs.spec.template.spec;
            assert.ok(!("nodeSelector" in pod) && !("tolerations" in pod) && !("imagePullPolicy" in pod.containers[0]), resource.name);
        }
        assert.strictEqual(plain.resources.find(r => r.name === "physioflow-api-config-blue")!.inputs.data.DATABASE_HOST, raw("dev").dbHost);
    });
});

describe("stack config: where backups are kept", () => {
    const store = { backupS3Endpoint: "https://minio.example", backupS3Bucket: "physioflow-backups-prod" };

    it("prod without a store is refused with one line naming both ways out; dev and staging may keep backups local", () => {
        refused(
            minimalStack({ environment: "prod" }),
            "physioflow:backupS3Endpoint is not set, so prod's backups would stay on the machine running pulumi up alone; set backupS3Endpoint and backupS3Bucket " +
                "(and the secrets backupS3AccessKeyId, backupS3SecretAccessKey), or pulumi config set backupLocalOnly true to keep its backups local on purpose",
        );
        refused(
            minimalStack({ environment: "prod", backupLocalOnly: "false" }),
            "physioflow:backupS3Endpoint is not set, so prod's backups would stay on the machine running pulumi up alone; set backupS3Endpoint and backupS3Bucket " +
                "(and the secrets backupS3AccessKeyId, backupS3SecretAccessKey), or pulumi config set backupLocalOnly true to keep its backups local on purpose",
        );
        assert.strictEqual(accepted({ environment: "staging" }).backupUpload, undefined);
        assert.strictEqual(accepted({ environment: "dev" }).backupLocalOnly, false);
    });

    it("backupLocalOnly: true lets prod keep its backups local; a store and backupLocalOnly together are refused; only true or false", () => {
        const localOnly = accepted({ environment: "prod", backupLocalOnly: "true" });
        assert.deepStrictEqual([localOnly.backupUpload, localOnly.backupLocalOnly], [undefined, true]);
        assert.deepStrictEqual(accepted({ environment: "prod", ...store }).backupLocalOnly, false);
        refused(
            minimalStack({ ...store, backupLocalOnly: "true" }),
            'physioflow:backupLocalOnly is "true" but physioflow:backupS3Endpoint is set to "https://minio.example"; remove one: backups go to the store, or stay local on purpose',
        );
        refused(minimalStack({ environment: "prod", backupLocalOnly: "yes" }), 'physioflow:backupLocalOnly is "yes"; allowed values: true, false');
        assert.ok(knownKeys.includes("backupLocalOnly"));
    });

    it("monthly copies: prod keeps 12 months by default, other stacks none; the months and the cold class are per stack and need a store", () => {
        assert.deepStrictEqual(accepted({ environment: "prod", ...store }).backupUpload, {
            endpoint: "https://minio.example",
            bucket: "physioflow-backups-prod",
            region: "us-east-1",
            monthlyKeepMonths: 12,
            coldStorageClass: "GLACIER",
        });
        assert.strictEqual(accepted({ environment: "staging", ...store }).backupUpload?.monthlyKeepMonths, 0);
        assert.strictEqual(accepted({ environment: "staging", ...store, backupMonthlyKeepMonths: "6" }).backupUpload?.monthlyKeepMonths, 6);
        assert.strictEqual(accepted({ environment: "prod", ...store, backupMonthlyKeepMonths: "0" }).backupUpload?.monthlyKeepMonths, 0);
        assert.strictEqual(accepted({ environment: "prod", ...store, backupMonthlyKeepMonths: "120" }).backupUpload?.monthlyKeepMonths, 120);
        assert.strictEqual(accepted({ ...store, backupColdStorageClass: "DEEP_ARCHIVE" }).backupUpload?.coldStorageClass, "DEEP_ARCHIVE");
        const noTransition = accepted({ ...store, backupColdStorageClass: "none" }).backupUpload!;
        assert.ok(!("coldStorageClass" in noTransition));
        refused(
            minimalStack({ ...store, backupMonthlyKeepMonths: "121" }),
            'physioflow:backupMonthlyKeepMonths is "121"; it must be a whole number from 0 to 120',
        );
        refused(
            minimalStack({ ...store, backupColdStorageClass: "glacier" }),
            'physioflow:backupColdStorageClass is "glacier"; it must be a storage class such as GLACIER (capitals, digits, _) or none',
        );
        refused(
            minimalStack({ environment: "prod", backupLocalOnly: "true", backupMonthlyKeepMonths: "12" }),
            "physioflow:backupMonthlyKeepMonths is set but physioflow:backupS3Endpoint is not; monthly copies are kept in the store: set it too, or remove backupMonthlyKeepMonths",
        );
        refused(
            minimalStack({ environment: "prod", backupLocalOnly: "true", backupColdStorageClass: "GLACIER" }),
            "physioflow:backupColdStorageClass is set but physioflow:backupS3Endpoint is not; monthly copies are kept in the store: set it too, or remove backupColdStorageClass",
        );
        // The whole value is the class: nothing before or after it.
        for (const value of ["cold GLACIER", "GLACIER-IR", "xnone", "none "]) {
            refused(
                minimalStack({ ...store, backupColdStorageClass: value }),
                `physioflow:backupColdStorageClass is "${value}"; it must be a storage class such as GLACIER (capitals, digits, _) or none`,
            );
        }
    });
});

describe("stack config: the limits of each value", () => {
    it("docs/configuration.md names every setting and secret", () => {
        const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "configuration.md"), "utf8");
        assert.deepStrictEqual(
            knownKeys.filter(key => !doc.includes(`\`${key}\``)),
            [],
        );
    });

    it("unknown keys are refused with the whole list of known ones, so a typo cannot silently keep the old value", () => {
        refused(minimalStack({ colour: "x" }), `physioflow:colour is not a setting this program reads; known keys: ${knownKeys.join(", ")}`);
        assert.ok(knownKeys.includes("dbPassword") && knownKeys.includes("backupS3SecretAccessKey") && knownKeys.includes("renderYamlTo"));
    });

    it("shutdown: the grace period follows the preStop sleep unless set, and must be above it", () => {
        assert.deepStrictEqual(accepted({ preStopSleepSeconds: "10" }).shutdown, { preStopSleepSeconds: 10, terminationGracePeriodSeconds: 40 });
        assert.deepStrictEqual(accepted({ preStopSleepSeconds: "0", terminationGracePeriodSeconds: "1" }).shutdown, {
            preStopSleepSeconds: 0,
            terminationGracePeriodSeconds: 1,
        });
        assert.deepStrictEqual(accepted({ terminationGracePeriodSeconds: "6" }).shutdown, { preStopSleepSeconds: 5, terminationGracePeriodSeconds: 6 });
        refused(
            minimalStack({ preStopSleepSeconds: "20", terminationGracePeriodSeconds: "20" }),
            "physioflow:terminationGracePeriodSeconds is 20; it must be above preStopSleepSeconds (20), or the pods are killed before they get SIGTERM",
        );
        refused(minimalStack({ preStopSleepSeconds: "301" }), 'physioflow:preStopSleepSeconds is "301"; it must be a whole number from 0 to 300');
    });

    it("whole numbers: the bounds are inclusive, anything else is refused", () => {
        assert.strictEqual(accepted({ replicas: "1000" }).replicas, 1000);
        assert.strictEqual(accepted({ replicas: " 3 " }).replicas, 3);
        assert.strictEqual(accepted({ inactiveReplicas: "0" }).inactiveReplicas, 0);
        assert.strictEqual(accepted({ dbPort: "1" }).database.port, 1);
        assert.strictEqual(accepted({ dbPort: "65535" }).database.port, 65535);
        assert.strictEqual(accepted({ readinessTimeoutSeconds: "10" }).readinessTimeoutSeconds, 10);
        assert.strictEqual(accepted({ readinessTimeoutSeconds: "3600" }).readinessTimeoutSeconds, 3600);
        for (const bad of ["1001", "1.5", "2x", "x2", "", "-"]) {
            refused(minimalStack({ replicas: bad }), `physioflow:replicas is "${bad}"; it must be a whole number from 1 to 1000`);
        }
        refused(minimalStack({ readinessTimeoutSeconds: "3601" }), 'physioflow:readinessTimeoutSeconds is "3601"; it must be a whole number from 10 to 3600');
        refused(minimalStack({ readinessFailureThreshold: "31" }), 'physioflow:readinessFailureThreshold is "31"; it must be a whole number from 1 to 30');
        refused(minimalStack({ dbPort: "0" }), 'physioflow:dbPort is "0"; it must be a whole number from 1 to 65535');
    });

    it("tags: letters, digits, _ . - up to 128, starting with a letter, digit or _", () => {
        assert.strictEqual(accepted({ blueTag: "_v1.2-rc.1" }).tags.blue, "_v1.2-rc.1");
        assert.strictEqual(accepted({ blueTag: "a".repeat(128) }).tags.blue, "a".repeat(128));
        assert.strictEqual(accepted({ environment: "local", blueTag: "latest" }).tags.blue, "latest");
        const why = "not a valid image tag; use letters, digits, '_', '.', '-' (max 128, not starting with '.' or '-'), e.g. v1.2.3";
        for (const bad of [".v1", "v 1", "v1!"]) {
            refused(minimalStack({ blueTag: bad }), `physioflow:blueTag is "${bad}", ${why}`);
        }
        refused(minimalStack({ greenTag: "" }), `physioflow:greenTag is "", ${why}`);
    });

    it("namespace: a DNS label of at most 63 characters", () => {
        assert.strictEqual(accepted({ namespace: "a" }).namespace, "a");
        assert.strictEqual(accepted({ namespace: `a${"-".repeat(61)}b` }).namespace, `a${"-".repeat(61)}b`);
        for (const bad of ["a".repeat(64), "-a", "a-", "a.b", "A"]) {
            refused(minimalStack({ namespace: bad }), `physioflow:namespace is "${bad}"; it must be a DNS label (lowercase letters, digits, '-')`);
        }
    });

    it("URLs: http or https, a host, then an optional path without spaces", () => {
        for (const url of ["http://a", "https://a.example:8443", "https://a.example/x/y?z=1"]) {
            assert.strictEqual(accepted({ webUrl: url }).webUrl, url);
        }
        for (const bad of ["ftp://a", "https://", "https:///x", "https://a b", "https://a/b c", " https://a", "xhttps://a"]) {
            refused(minimalStack({ apiUrl: bad }), `physioflow:apiUrl is "${bad}"; it must be an http(s) URL`);
        }
        refused(minimalStack({ keycloakUrl: "keycloak" }), 'physioflow:keycloakUrl is "keycloak"; it must be an http(s) URL');
        refused(
            minimalStack({ backupS3Endpoint: "s3.example", backupS3Bucket: "b" }),
            'physioflow:backupS3Endpoint is "s3.example"; it must be an http(s) URL of the S3-compatible store',
        );
    });

    it("registry and images: lowercase host, optional port and path; an image needs a tag", () => {
        assert.strictEqual(accepted({ imageRegistry: "registry.example.com:5000/team/apps" }).imageRegistry, "registry.example.com:5000/team/apps");
        for (const bad of ["Registry.example.com", "registry.example.com/", "registry:port", "https://registry.example.com", "registry.example.com/a b"]) {
            refused(
                minimalStack({ imageRegistry: bad }),
                `physioflow:imageRegistry is "${bad}"; it must be a registry host with an optional port and path, e.g. registry.example.com`,
            );
        }
        for (const bad of ["curl:latest extra", "Curl:8", "registry.example.com:5000/curl", "curl:.8", "x/curl:8/y"]) {
            refused(
                minimalStack({ smokeImage: bad }),
                `physioflow:smokeImage is "${bad}"; it must be an image reference with a tag, e.g. curlimages/curl:8.11.1`,
            );
        }
    });

    it("required values: missing and blank are refused alike, naming how to set them", () => {
        refused(minimalStack({ keycloakRealm: " " }), 'physioflow:keycloakRealm is " "; it is required (pulumi config set keycloakRealm <value>)');
        refused(
            minimalStack({ keycloakClientId: undefined }),
            "physioflow:keycloakClientId is not set; it is required (pulumi config set keycloakClientId <value>)",
        );
        refused(minimalStack({ dbHost: "" }), 'physioflow:dbHost is ""; it is required (pulumi config set dbHost <value>)');
        refused(minimalStack({ dbUser: undefined }), "physioflow:dbUser is not set; it is required (pulumi config set dbUser <value>)");
        refused(minimalStack({ imageRegistry: undefined }), "physioflow:imageRegistry is not set; it is required (pulumi config set imageRegistry <value>)");
        refused(
            minimalStack({ backupS3Endpoint: "https://s3.example" }),
            "physioflow:backupS3Bucket is not set; it is required (pulumi config set backupS3Bucket <value>)",
        );
        refused(minimalStack({ environment: undefined }), "physioflow:environment is not set; allowed values: dev, staging, prod, local");
        refused(
            minimalStack({ blueTag: undefined }),
            "physioflow:blueTag is not set but blue is the active color and needs an image tag (pulumi config set blueTag v1.2.3)",
        );
    });

    it("backupDir: letters, digits, _ . / - and $ only", () => {
        assert.strictEqual(accepted({ backupDir: "$HOME/a-b/c_d.e" }).backupDir, "$HOME/a-b/c_d.e");
        for (const bad of ["/a b", "/a'b", "", '/a"b']) {
            refused(
                minimalStack({ backupDir: bad }),
                `physioflow:backupDir is "${bad}"; use a path of letters, digits and _ . / - ($HOME allowed), no spaces or quotes`,
            );
        }
    });

    it("migrationTarget: exactly three digits", () => {
        for (const bad of ["0015", "01", "01a", "a015"]) {
            refused(minimalStack({ migrationTarget: bad }), `physioflow:migrationTarget is "${bad}"; it must be a three-digit migration version like 015`);
        }
    });

    it("health paths: a plain path starting with /", () => {
        assert.strictEqual(accepted({ webHealthPath: "/a-b/c_d.e~" }).apps.web.healthPath, "/a-b/c_d.e~");
        for (const bad of ["/a b", "/a?b", "x/", "/a;"]) {
            refused(minimalStack({ webHealthPath: bad }), `physioflow:webHealthPath is "${bad}"; it must be a path like /`);
        }
    });

    it("smoke checks: the parser's message after the key and value", () => {
        refused(minimalStack({ smokeChecks: "" }), 'physioflow:smokeChecks is ""; list at least one check as app:path=status, e.g. api:/health=200');
        assert.deepStrictEqual(accepted({ smokeChecks: "web:/login=302" }).smoke.checks, [{ app: "web", path: "/login", status: 302 }]);
    });

    it("resources: each key may be set alone, with spaces around pairs; decimals and binary units", () => {
        assert.deepStrictEqual(accepted({ webResources: " limits.cpu=1.5 , requests.memory=1Gi,limits.memory=2Gi,requests.cpu=250m" }).apps.web.resources, {
            requests: { cpu: "250m", memory: "1Gi" },
            limits: { cpu: "1.5", memory: "2Gi" },
        });
        // More than one decimal digit.
        assert.deepStrictEqual(accepted({ webResources: "limits.cpu=0.25,requests.memory=1.75Gi,limits.memory=2Gi" }).apps.web.resources, {
            requests: { cpu: "100m", memory: "1.75Gi" },
            limits: { cpu: "0.25", memory: "2Gi" },
        });
        const message = (value: string) =>
            `physioflow:apiResources is "${value}"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi`;
        for (const bad of [
            "requests.cpu",
            "requests.cpu=1=2",
            "requests.cpu=1.",
            "requests.cpu=m",
            "requests.cpu=1 m",
            "requests.cpu=1Xi",
            "limits.disk=1",
            "requests.cpu=x100m",
            "requests.memory=-128Mi",
        ]) {
            refused(minimalStack({ apiResources: bad }), message(bad));
        }
    });
});

describe("stack config: the watch's error rate", () => {
    it("is read only with a Prometheus URL; a blank threshold or one below 0 is refused", () => {
        assert.strictEqual(parseErrorRate({}, "ns"), undefined);
        assert.deepStrictEqual(parseErrorRate({ prometheusUrl: "http://p:9090", errorRateThreshold: "2.5" }, "clinic"), {
            prometheusUrl: "http://p:9090",
            query: 'sum(rate(http_requests_total{namespace="clinic",code=~"5.."}[1m]))',
            threshold: 2.5,
        });
        assert.throws(() => parseErrorRate({ prometheusUrl: "http://p", errorRateThreshold: " " }, "ns"), {
            message: 'physioflow:errorRateThreshold is " "; it must be a number of errors per second, 0 or more (e.g. 0.1)',
        });
        assert.throws(() => parseErrorRate({ prometheusUrl: "http://p", errorRateThreshold: "-0.01" }, "ns"), {
            message: 'physioflow:errorRateThreshold is "-0.01"; it must be a number of errors per second, 0 or more (e.g. 0.1)',
        });
        assert.throws(() => parseErrorRate({ prometheusUrl: "http://p", errorRateQuery: "" }, "ns"), {
            message: 'physioflow:errorRateQuery is ""; it must be a PromQL query such as sum(rate(http_requests_total{code=~"5.."}[1m]))',
        });
    });
});

describe("stack config: secrets", () => {
    const settings = (upload: boolean) => accepted(upload ? { backupS3Endpoint: "https://s3.example", backupS3Bucket: "b" } : {});

    it("needs the database passwords, and the S3 keys only when backups are uploaded", () => {
        const asked: string[] = [];
        const passwords = ["dbPassword", "dbAdminPassword", "blueDbPassword", "greenDbPassword"];
        checkSecretsPresent(key => (asked.push(key), true), settings(false));
        assert.deepStrictEqual(asked, passwords);
        asked.length = 0;
        checkSecretsPresent(key => (asked.push(key), true));
        assert.deepStrictEqual(asked, passwords);
        asked.length = 0;
        checkSecretsPresent(key => (asked.push(key), true), settings(true));
        assert.deepStrictEqual(asked, [...passwords, "backupS3AccessKeyId", "backupS3SecretAccessKey"]);
    });

    it("names the first missing secret and how to set it", () => {
        assert.throws(
            () => checkSecretsPresent(key => key !== "backupS3SecretAccessKey", settings(true)),
            (err: Error) =>
                err instanceof ConfigError &&
                err.message === "physioflow:backupS3SecretAccessKey is not set; set it as a secret: pulumi config set --secret backupS3SecretAccessKey <value>",
        );
    });
});

describe("stack config: importExisting", () => {
    it("is false unless set; true or false; anything else refused in one line", () => {
        assert.ok(knownKeys.includes("importExisting"));
        assert.strictEqual(accepted({}).importExisting, false);
        assert.strictEqual(accepted({ importExisting: "true" }).importExisting, true);
        assert.strictEqual(accepted({ importExisting: "false" }).importExisting, false);
        refused(minimalStack({ importExisting: "yes" }), 'physioflow:importExisting is "yes"; allowed values: true, false');
        refused(minimalStack({ importExisting: "" }), 'physioflow:importExisting is ""; allowed values: true, false');
    });

    it("importObjects: the objects the program names, only with importExisting", () => {
        assert.deepStrictEqual(accepted({ importExisting: "true" }).importObjects, []);
        assert.deepStrictEqual(accepted({ importExisting: "true", importObjects: "Deployment/physioflow-api-blue,Service/physioflow-web" }).importObjects, [
            "Deployment/physioflow-api-blue",
            "Service/physioflow-web",
        ]);
        refused(
            minimalStack({ importObjects: "Service/physioflow-web" }),
            "physioflow:importObjects is set without importExisting: true; npx physioflow import <stack> sets both for one update",
        );
        refused(
            minimalStack({ importExisting: "true", importObjects: "Secret/physioflow-secrets" }),
            `physioflow:importObjects lists "Secret/physioflow-secrets"; it may list only objects the program names: ${namedObjects().join(", ")}`,
        );
    });
});

describe("stack config: holdMigrations", () => {
    it("is false unless set; true or false; anything else refused in one line", () => {
        assert.ok(knownKeys.includes("holdMigrations"));
        assert.strictEqual(accepted({}).holdMigrations, false);
        assert.strictEqual(accepted({ holdMigrations: "true" }).holdMigrations, true);
        assert.strictEqual(accepted({ holdMigrations: "false" }).holdMigrations, false);
        refused(minimalStack({ holdMigrations: "yes" }), 'physioflow:holdMigrations is "yes"; allowed values: true, false');
        refused(minimalStack({ holdMigrations: "" }), 'physioflow:holdMigrations is ""; allowed values: true, false');
    });
});

describe("bad config stops the program before any resource", () => {
    const stops = async (config: Record<string, string>, message: string) => {
        await assert.rejects(runProgram("dev", config), (err: Error) => {
            assert.strictEqual(err.constructor.name, "RunError", "a RunError is printed without a stack trace");
            assert.strictEqual(err.message, message);
            return true;
        });
    };

    it("an invalid activeColor", async () => {
        await stops(stackConfigWithSecrets("dev", { activeColor: "purple" }), 'physioflow:activeColor is "purple"; allowed values: blue, green');
    });

    it("a missing admin secret", async () => {
        await stops(
            stackConfigWithSecrets("dev", { dbAdminPassword: undefined }),
            "physioflow:dbAdminPassword is not set; set it as a secret: pulumi config set --secret dbAdminPassword <value>",
        );
    });

    it("a missing secret", async () => {
        await stops(
            stackConfigWithSecrets("dev", { dbPassword: undefined }),
            "physioflow:dbPassword is not set; set it as a secret: pulumi config set --secret dbPassword <value>",
        );
    });
});
