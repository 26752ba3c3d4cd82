import * as assert from "assert";
import { applySettings, localStackSettings, parseSetting } from "../../local/localStackConfig";

const base = localStackSettings({ kubeconfig: "/work/.local/cluster/kubeconfig", backupDir: ".local/backups", dbPort: 5433 });

describe("local stack settings", () => {
    it("are a valid stack on this machine: database on 127.0.0.1 without TLS, the control plane's kubeconfig, nothing rendered", () => {
        const { config } = applySettings(base, []);
        assert.strictEqual(config.environment, "local");
        assert.strictEqual(config.namespace, "physioflow-local");
        assert.deepStrictEqual(config.database, {
            host: "127.0.0.1",
            port: 5433,
            name: "physioflow_local",
            user: "physioflow",
            adminUser: "postgres",
            sslMode: "disable",
            // Pods reach the database where the stack does, unless a real node's relay says otherwise (dbHostForPods).
            podHost: "127.0.0.1",
        });
        assert.deepStrictEqual(config.kubernetes, { kubeconfig: "/work/.local/cluster/kubeconfig", context: undefined, renderYamlToDirectory: undefined });
        assert.strictEqual(config.readinessTimeoutSeconds, 300);
        const rendering = applySettings(localStackSettings({ renderDir: "/tmp/render", backupDir: ".local/backups", dbPort: 5433 }), []);
        assert.deepStrictEqual(rendering.config.kubernetes, { kubeconfig: undefined, context: undefined, renderYamlToDirectory: "/tmp/render" });
        for (const url of [config.webUrl, config.apiUrl, config.keycloak.url]) {
            assert.match(url, /^http:\/\/[a-z.]+\.example\.test(\/|$)/);
        }
    });

    it("--set changes a setting, validated as the program validates it", () => {
        const { settings, config } = applySettings(base, [parseSetting("activeColor=green"), parseSetting("physioflow:greenTag=v1.1.0")]);
        assert.strictEqual(settings.activeColor, "green");
        assert.strictEqual(config.tags.green, "v1.1.0");
        assert.strictEqual(base.activeColor, "blue", "the current settings were modified");
    });

    it("refuses a bad value with the program's one line", () => {
        assert.throws(() => applySettings(base, [parseSetting("activeColor=purple")]), {
            name: "ConfigError",
            message: 'physioflow:activeColor is "purple"; allowed values: blue, green',
        });
    });

    it("refuses settings that describe this machine, secrets and unknown keys", () => {
        assert.throws(() => applySettings(base, [["dbHost", "10.0.0.1"]]), /^ConfigError: physioflow:dbHost cannot be --set: npm run local manages it/);
        assert.throws(() => applySettings(base, [["dbPassword", "x"]]), /physioflow:dbPassword is a secret and cannot be --set/);
        assert.throws(
            () => applySettings(base, [["kubeconfig", "/root/.kube/config"]]),
            /physioflow:kubeconfig cannot be --set: npm run local manages it \(it deploys to the control plane it starts in .local\/cluster, and to no other cluster\)/,
        );
        assert.throws(
            () => applySettings(base, [["backupS3Endpoint", "http://minio.example.test"]]),
            /physioflow:backupS3Endpoint cannot be --set: npm run local manages it \(backups stay under .local\/backups; nothing is uploaded\)/,
        );
        assert.throws(
            () => applySettings(base, [["activeColour", "green"]]),
            /physioflow:activeColour is not a setting this program reads; settable keys: environment, namespace, activeColor/,
        );
    });

    it("refuses --set without key=value", () => {
        assert.throws(() => parseSetting("activeColor"), /--set "activeColor" is not key=value/);
        assert.deepStrictEqual(parseSetting("webUrl=http://a.example.test/?x=1"), ["webUrl", "http://a.example.test/?x=1"]);
    });
});
