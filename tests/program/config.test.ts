import * as assert from "assert";
import { ConfigError, parseStackConfig, RawConfig } from "../../components/config";
import { plainValues } from "../../components/loadConfig";
import { runProgram, stackConfigWithSecrets, stackFileConfig } from "../support/programRun";

/** A stack file's plain settings as the parser sees them, with overrides (undefined removes a key). */
function raw(stack: string, overrides: Record<string, string | undefined> = {}): RawConfig {
    const values = { ...plainValues(stackFileConfig(stack)), ...overrides };
    return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function refused(config: RawConfig, message: string): void {
    assert.throws(() => parseStackConfig(config), (err: Error) => {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
        assert.strictEqual(err.message, message);
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
    });
}

describe("stack config", () => {
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

    it("defaults: namespace from the environment, inactive replicas 0, inactive tag = active tag", () => {
        const settings = parseStackConfig(raw("dev", { namespace: undefined, inactiveReplicas: undefined, greenTag: undefined }));
        assert.strictEqual(settings.namespace, "physioflow-dev");
        assert.strictEqual(settings.inactiveReplicas, 0);
        assert.deepStrictEqual(settings.tags, { blue: "v1.2.2", green: "v1.2.2" });
        assert.strictEqual(settings.inactiveColor, "green");
    });

    it("refuses an activeColor that is not blue or green", () => {
        refused(raw("dev", { activeColor: "purple" }), 'physioflow:activeColor is "purple"; allowed values: blue, green');
        refused(raw("dev", { activeColor: undefined }), "physioflow:activeColor is not set; allowed values: blue, green");
    });

    it("refuses a missing or empty tag for the active color", () => {
        refused(raw("dev", { activeColor: "green", greenTag: undefined }),
            "physioflow:greenTag is not set but green is the active color and needs an image tag (pulumi config set greenTag v1.2.3)");
        refused(raw("dev", { blueTag: "  " }),
            'physioflow:blueTag is "  " but blue is the active color and needs an image tag (pulumi config set blueTag v1.2.3)');
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
            refused(raw(stack, { greenTag: "latest" }),
                `physioflow:greenTag is "latest", which is not allowed in ${stack}: pin a release tag such as v1.2.3 so a rollback returns to known code`);
            refused(raw(stack, { blueTag: "latest" }),
                `physioflow:blueTag is "latest", which is not allowed in ${stack}: pin a release tag such as v1.2.3 so a rollback returns to known code`);
        }
        assert.strictEqual(parseStackConfig(raw("dev", { blueTag: "latest" })).tags.blue, "latest");
    });

    it("refuses fewer than 1 replica for the active color, and negative inactive replicas", () => {
        refused(raw("prod", { replicas: "0" }), 'physioflow:replicas is "0"; it must be a whole number from 1 to 1000');
        refused(raw("prod", { replicas: "two" }), 'physioflow:replicas is "two"; it must be a whole number from 1 to 1000');
        refused(raw("prod", { inactiveReplicas: "-1" }), 'physioflow:inactiveReplicas is "-1"; it must be a whole number from 0 to 1000');
    });

    it("refuses unknown keys, so a typo cannot silently keep the old value", () => {
        assert.throws(() => parseStackConfig(raw("dev", { activeColour: "green" })),
            /^ConfigError: physioflow:activeColour is not a setting this program reads; known keys: environment, /);
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
        refused(raw("dev", { smokeImage: "curlimages/curl" }), 'physioflow:smokeImage is "curlimages/curl"; it must be an image reference with a tag, e.g. curlimages/curl:8.11.1');
        refused(raw("dev", { smokeChecks: "api:/health" }), 'physioflow:smokeChecks is "api:/health"; "api:/health" is not app:path=status, e.g. api:/health=200');
        refused(raw("dev", { backupDir: "/tmp/x; rm -rf /" }),
            'physioflow:backupDir is "/tmp/x; rm -rf /"; use a path of letters, digits and _ . / - ($HOME allowed), no spaces or quotes');
    });

    it("the watch's error rate: none without prometheusUrl; with it, the 5xx rate of the namespace over 1m and 0.1/s by default; bad values refused", () => {
        assert.strictEqual(parseStackConfig(raw("prod")).errorRate, undefined);
        assert.deepStrictEqual(parseStackConfig(raw("prod", { prometheusUrl: "http://prometheus.example:9090" })).errorRate, {
            prometheusUrl: "http://prometheus.example:9090",
            query: 'sum(rate(http_requests_total{namespace="physioflow-prod",code=~"5.."}[1m]))',
            threshold: 0.1,
        });
        assert.deepStrictEqual(parseStackConfig(raw("dev", { prometheusUrl: "https://p.example/prom", errorRateQuery: "sum(rate(x[5m]))", errorRateThreshold: "0" })).errorRate,
            { prometheusUrl: "https://p.example/prom", query: "sum(rate(x[5m]))", threshold: 0 });
        refused(raw("dev", { prometheusUrl: "prometheus:9090" }),
            'physioflow:prometheusUrl is "prometheus:9090"; it must be an http(s) URL of the Prometheus server, e.g. http://prometheus.example:9090');
        refused(raw("dev", { errorRateThreshold: "0.5" }), "physioflow:errorRateThreshold is set but physioflow:prometheusUrl is not; set prometheusUrl too, or remove errorRateThreshold");
        refused(raw("dev", { errorRateQuery: "up" }), "physioflow:errorRateQuery is set but physioflow:prometheusUrl is not; set prometheusUrl too, or remove errorRateQuery");
        for (const bad of ["abc", "-1", "", "Infinity"]) {
            refused(raw("dev", { prometheusUrl: "http://p.example", errorRateThreshold: bad }),
                `physioflow:errorRateThreshold is "${bad}"; it must be a number of errors per second, 0 or more (e.g. 0.1)`);
        }
        refused(raw("dev", { prometheusUrl: "http://p.example", errorRateQuery: " " }),
            'physioflow:errorRateQuery is " "; it must be a PromQL query such as sum(rate(http_requests_total{code=~"5.."}[1m]))');
    });

    it("probes and resources per stack: defaults, overrides, and bad values refused", () => {
        const defaults = parseStackConfig(raw("prod"));
        assert.deepStrictEqual(defaults.probes, { startupTimeoutSeconds: 120, readinessFailureThreshold: 3, livenessFailureThreshold: 3 });
        assert.deepStrictEqual(defaults.apps.api, { healthPath: "/health", resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } } });
        assert.strictEqual(defaults.apps.web.healthPath, "/");
        const set = parseStackConfig(raw("prod", {
            apiHealthPath: "/health/ready", startupTimeoutSeconds: "300", readinessFailureThreshold: "5", livenessFailureThreshold: "6",
            apiResources: "requests.cpu=250m,limits.memory=1Gi",
        }));
        assert.deepStrictEqual(set.probes, { startupTimeoutSeconds: 300, readinessFailureThreshold: 5, livenessFailureThreshold: 6 });
        assert.deepStrictEqual(set.apps.api, { healthPath: "/health/ready", resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { cpu: "500m", memory: "1Gi" } } });
        refused(raw("dev", { apiResources: "cpu=1" }),
            'physioflow:apiResources is "cpu=1"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi');
        refused(raw("dev", { webResources: "limits.memory=lots" }),
            'physioflow:webResources is "limits.memory=lots"; it must be key=quantity pairs of requests.cpu, requests.memory, limits.cpu, limits.memory, e.g. requests.cpu=100m,limits.memory=512Mi');
        refused(raw("dev", { apiHealthPath: "health" }), 'physioflow:apiHealthPath is "health"; it must be a path like /health');
        refused(raw("dev", { livenessFailureThreshold: "0" }), 'physioflow:livenessFailureThreshold is "0"; it must be a whole number from 1 to 30');
        refused(raw("dev", { startupTimeoutSeconds: "5" }), 'physioflow:startupTimeoutSeconds is "5"; it must be a whole number from 10 to 3600');
    });

    it("release defaults: the inactive color is not warm; the smoke test checks the API's health and the web root with curl", () => {
        const settings = parseStackConfig(raw("prod", {}));
        assert.strictEqual(settings.inactiveWarm, false);
        assert.deepStrictEqual(settings.smoke, {
            image: "curlimages/curl:8.11.1",
            checks: [{ app: "api", path: "/health", status: 200 }, { app: "web", path: "/", status: 200 }],
        });
        assert.strictEqual(parseStackConfig(raw("prod", { inactiveWarm: "true" })).inactiveWarm, true);
    });

    it("database defaults: admin role postgres, sslmode require, backups under $HOME", () => {
        const settings = parseStackConfig(raw("staging", { dbAdminUser: undefined, dbSslMode: undefined, backupDir: undefined }));
        assert.strictEqual(settings.database.adminUser, "postgres");
        assert.strictEqual(settings.database.sslMode, "require");
        assert.strictEqual(settings.backupDir, "$HOME/physioflow-backups/staging");
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
        await stops(stackConfigWithSecrets("dev", { dbAdminPassword: undefined }),
            "physioflow:dbAdminPassword is not set; set it as a secret: pulumi config set --secret dbAdminPassword <value>");
    });

    it("a missing secret", async () => {
        await stops(stackConfigWithSecrets("dev", { dbPassword: undefined }),
            "physioflow:dbPassword is not set; set it as a secret: pulumi config set --secret dbPassword <value>");
    });
});
