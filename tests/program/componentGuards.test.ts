/**
 * Guards inside the components that the stack's config checks never let a stack reach: a
 * BlueGreenApp built by other code with impossible replicas, routeTraffic called twice, and the
 * config the program reads (secrets and other namespaces never become plain values).
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenApp, BlueGreenAppArgs } from "../../components/blueGreenApp";
import { parseStackConfig } from "../../components/config";
import { stackColorSettings } from "../../components/colorSettings";
import { colorDeploymentSpec } from "../../components/colorDeployment";
import { plainValues } from "../../components/loadConfig";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";

describe("component guards", () => {
    let args: BlueGreenAppArgs;
    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource: resource => ({ id: `${resource.name}-id`, state: resource.inputs }),
                call: call => call.inputs,
            },
            "physioflow",
            "guards",
            false,
        );
        const settings = stackColorSettings(parseStackConfig(plainValues(stackConfigWithSecrets("dev"))));
        args = {
            namespace: "ns",
            image: "registry.example/api",
            tags: { blue: "v1", green: "v1" },
            activeColor: "blue",
            replicas: 1,
            port: 7011,
            settings: { blue: settings.api, green: settings.api },
        };
    });

    it("a BlueGreenApp refuses fewer than one active replica, or a fraction", () => {
        for (const replicas of [0, -1, 1.5]) {
            assert.throws(() => new BlueGreenApp(`app-r${replicas}`, { ...args, replicas }), {
                message: `app-r${replicas}: replicas is ${replicas}; the active color needs at least 1`,
            });
        }
    });

    it("a BlueGreenApp refuses negative or fractional inactive replicas", () => {
        for (const inactiveReplicas of [-1, 0.5]) {
            assert.throws(() => new BlueGreenApp(`app-i${inactiveReplicas}`, { ...args, inactiveReplicas }), {
                message: `app-i${inactiveReplicas}: inactiveReplicas is ${inactiveReplicas}; use 0 or more`,
            });
        }
        assert.doesNotThrow(() => new BlueGreenApp("app-i0", { ...args, inactiveReplicas: 0, replicas: 1 }));
    });

    it("traffic is routed once: a second routeTraffic is refused", () => {
        const app = new BlueGreenApp("app-twice", args);
        app.routeTraffic([]);
        assert.throws(() => app.routeTraffic([]), { message: "app-twice: routeTraffic called twice" });
    });

    it("the plain config is the physioflow keys without their namespace, no secret among them", () => {
        assert.deepStrictEqual(
            plainValues({
                "physioflow:environment": "dev",
                "physioflow:dbPassword": "s1",
                "physioflow:dbAdminPassword": "s2",
                "physioflow:blueDbPassword": "s3",
                "physioflow:greenDbPassword": "s4",
                "physioflow:backupS3AccessKeyId": "s5",
                "physioflow:backupS3SecretAccessKey": "s6",
                "kubernetes:context": "k3s",
                "other:environment": "prod",
                "physioflow:keycloakUrl": "https://id.example/a:b",
            }),
            { environment: "dev", keycloakUrl: "https://id.example/a:b" },
        );
    });

    it("a color without a Secret reads its ConfigMap alone", () => {
        const spec = colorDeploymentSpec({
            app: "physioflow-web",
            color: "green",
            image: "registry.example/web",
            tag: "v1",
            replicas: 1,
            port: 3000,
            healthPath: "/",
            probes: { startupTimeoutSeconds: 60, readinessFailureThreshold: 3, livenessFailureThreshold: 3 },
            configMapName: "web-config-green",
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
            runAsUser: 1001,
            readinessTimeoutSeconds: 300,
        });
        assert.deepStrictEqual((spec.template as any).spec.containers[0].envFrom, [{ configMapRef: { name: "web-config-green" } }]);
    });

    it("a color's pods stop as its settings say: a preStop sleep and the grace period; none with a sleep of 0; Kubernetes' defaults without settings", () => {
        const spec = (shutdown?: { preStopSleepSeconds: number; terminationGracePeriodSeconds: number }) =>
            colorDeploymentSpec({
                app: "physioflow-api",
                color: "blue",
                image: "registry.example/api",
                tag: "v1",
                replicas: 2,
                port: 7011,
                healthPath: "/health",
                probes: { startupTimeoutSeconds: 60, readinessFailureThreshold: 3, livenessFailureThreshold: 3 },
                shutdown,
                configMapName: "api-config-blue",
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
                runAsUser: 1001,
                readinessTimeoutSeconds: 300,
            }).template as any;
        const sleeping = spec({ preStopSleepSeconds: 5, terminationGracePeriodSeconds: 35 });
        assert.deepStrictEqual(sleeping.spec.containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } });
        assert.strictEqual(sleeping.spec.terminationGracePeriodSeconds, 35);
        const awake = spec({ preStopSleepSeconds: 0, terminationGracePeriodSeconds: 30 });
        assert.strictEqual(awake.spec.containers[0].lifecycle, undefined);
        assert.strictEqual(awake.spec.terminationGracePeriodSeconds, 30);
        // Settings recorded before shutdown existed: the spec those pods run with, unchanged.
        const recorded = spec(undefined);
        assert.ok(!("lifecycle" in recorded.spec.containers[0]) && !("terminationGracePeriodSeconds" in recorded.spec));
    });

    it("the cluster's kubeconfig, context and render folder reach the provider every cluster object is created with", async () => {
        const run = await runProgram("dev", stackConfigWithSecrets("dev", { kubeconfig: "/tmp/kc.yaml", kubeContext: "k3s-dev", renderYamlTo: "/tmp/render" }));
        assert.deepStrictEqual(find(run, "pulumi:providers:kubernetes", "k8s").inputs, {
            kubeconfig: "/tmp/kc.yaml",
            context: "k3s-dev",
            renderYamlToDirectory: "/tmp/render",
        });
        const clusterObjects = run.resources.filter(r => r.type.startsWith("kubernetes:"));
        assert.ok(clusterObjects.length > 20);
        assert.deepStrictEqual(
            clusterObjects.filter(r => r.options.provider !== "pulumi:providers:kubernetes/k8s").map(r => `${r.type}/${r.name}`),
            [],
        );
    });
});
