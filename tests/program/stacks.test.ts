import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { isSecretInput } from "../support/inputDiff";
import { find, ProgramRun, runProgram, stackConfigWithSecrets } from "../support/programRun";
import { Color, otherColor } from "../../components/colors";

const Deployment = "kubernetes:apps/v1:Deployment";
const Service = "kubernetes:core/v1:Service";
const ConfigMap = "kubernetes:core/v1:ConfigMap";

const expected = {
    dev: { replicas: 1, namespace: "physioflow-dev", web: "https://physioflow-dev.trancloud.work", db: "physioflow_dev", realm: "physioflow-dev" },
    staging: {
        replicas: 1,
        namespace: "physioflow-staging",
        web: "https://physioflow-staging.trancloud.work",
        db: "physioflow_staging",
        realm: "physioflow-staging",
    },
    prod: { replicas: 2, namespace: "physioflow-prod", web: "https://physioflow.trancloud.work", db: "physioflow_prod", realm: "physioflow-prod" },
};

for (const [stack, want] of Object.entries(expected)) {
    describe(`stack ${stack}`, () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(stack, stackConfigWithSecrets(stack));
        });

        for (const app of ["physioflow-api", "physioflow-web"]) {
            it(`${app}: both colors exist, labelled, each with its own tag`, () => {
                for (const [color, tag] of [
                    ["blue", "v1.2.2"],
                    ["green", "v1.2.3"],
                ]) {
                    const d = find(run, Deployment, `${app}-${color}`).inputs;
                    assert.strictEqual(d.metadata.name, `${app}-${color}`);
                    assert.strictEqual(d.metadata.namespace, want.namespace);
                    assert.deepStrictEqual(d.spec.selector.matchLabels, { app, version: color });
                    assert.deepStrictEqual(d.spec.template.metadata.labels, { app, version: color });
                    assert.strictEqual(d.spec.template.spec.containers[0].image, `registry.trancloud.work/${app}:${tag}`);
                }
            });

            it(`${app}: live Service selects the active color, preview Service the inactive one`, () => {
                const live = find(run, Service, app).inputs;
                const preview = find(run, Service, `${app}-preview`).inputs;
                assert.deepStrictEqual(live.spec.selector, { app, version: "blue" });
                assert.deepStrictEqual(preview.spec.selector, { app, version: "green" });
                // The selector must match the pods' labels exactly, or the Service routes nowhere.
                assert.deepStrictEqual(live.spec.selector, find(run, Deployment, `${app}-blue`).inputs.spec.template.metadata.labels);
                assert.deepStrictEqual(preview.spec.selector, find(run, Deployment, `${app}-green`).inputs.spec.template.metadata.labels);
                assert.strictEqual(preview.metadata.annotations["pulumi.com/skipAwait"], "true");
            });

            it(`${app}: active color has ${want.replicas} replica(s), inactive 0`, () => {
                assert.strictEqual(find(run, Deployment, `${app}-blue`).inputs.spec.replicas, want.replicas);
                assert.strictEqual(find(run, Deployment, `${app}-green`).inputs.spec.replicas, 0);
            });

            it(`${app}: a color is done only when all its replicas are updated and ready; the stack owns selectors and replicas`, () => {
                const blue = find(run, Deployment, `${app}-blue`).inputs;
                const green = find(run, Deployment, `${app}-green`).inputs;
                const n = want.replicas;
                assert.deepStrictEqual(JSON.parse(blue.metadata.annotations["pulumi.com/waitFor"]), [
                    `jsonpath={.status.replicas}=${n}`,
                    `jsonpath={.status.updatedReplicas}=${n}`,
                    `jsonpath={.status.readyReplicas}=${n}`,
                    `jsonpath={.status.availableReplicas}=${n}`,
                ]);
                assert.deepStrictEqual(JSON.parse(green.metadata.annotations["pulumi.com/waitFor"]), ["jsonpath={.spec.replicas}=0"]);
                assert.strictEqual(blue.spec.progressDeadlineSeconds, 300);
                for (const object of [blue, green, find(run, Service, app).inputs, find(run, Service, `${app}-preview`).inputs]) {
                    assert.strictEqual(object.metadata.annotations["pulumi.com/patchForce"], "true", object.metadata.name);
                }
            });

            it(`${app}: probes, resources, non-root pods, env from the color's own ConfigMap and Secret`, () => {
                const pod = find(run, Deployment, `${app}-blue`).inputs.spec.template.spec;
                const c = pod.containers[0];
                const port = app === "physioflow-api" ? 7011 : 3000;
                const health = app === "physioflow-api" ? "/health" : "/";
                // Startup and readiness call the health path (it may check the database); liveness is TCP only,
                // so a database blip takes pods out of their Services but never restarts them.
                assert.deepStrictEqual(c.startupProbe, { httpGet: { path: health, port }, timeoutSeconds: 3, periodSeconds: 5, failureThreshold: 24 });
                assert.deepStrictEqual(c.readinessProbe, { httpGet: { path: health, port }, timeoutSeconds: 3, periodSeconds: 5, failureThreshold: 3 });
                assert.deepStrictEqual(c.livenessProbe, { tcpSocket: { port }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 });
                assert.deepStrictEqual(c.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } });
                assert.strictEqual(pod.securityContext.runAsNonRoot, true);
                assert.strictEqual(c.securityContext.allowPrivilegeEscalation, false);
                // Each color reads its own objects, by the names the engine gave them (mocks: the resource name + a suffix).
                for (const color of ["blue", "green"] as Color[]) {
                    assert.deepStrictEqual(find(run, Deployment, `${app}-${color}`).inputs.spec.template.spec.containers[0].envFrom, [
                        { configMapRef: { name: `${app}-config-${color}-0a1b2c3d` } },
                        { secretRef: { name: `physioflow-secrets-${color}-0a1b2c3d` } },
                    ]);
                    const cm = find(run, ConfigMap, `${app}-config-${color}`);
                    assert.strictEqual(cm.inputs.metadata.name, undefined, "a fixed name would be replaced delete-first, with every Deployment using it");
                    assert.deepStrictEqual(cm.inputs.metadata.labels, { app, version: color });
                    assert.deepStrictEqual(cm.options.dependsOn, [`kubernetes:core/v1:Namespace/${want.namespace}`]);
                    assert.ok(find(run, Deployment, `${app}-${color}`).options.dependsOn.includes(`kubernetes:core/v1:ConfigMap/${app}-config-${color}`));
                    assert.ok(find(run, Deployment, `${app}-${color}`).options.dependsOn.includes(`kubernetes:core/v1:Secret/physioflow-secrets-${color}`));
                    assert.ok(
                        !find(run, Deployment, `${app}-${color}`).options.dependsOn.includes(`kubernetes:core/v1:ConfigMap/${app}-config-${otherColor(color)}`),
                    );
                }
            });

            it(`${app}: a PodDisruptionBudget only when replicas > 1`, () => {
                const pdbs = run.resources.filter(r => r.type === "kubernetes:policy/v1:PodDisruptionBudget" && r.name === app);
                assert.strictEqual(pdbs.length, want.replicas > 1 ? 1 : 0);
                if (pdbs.length) assert.deepStrictEqual(pdbs[0].inputs.spec.selector.matchLabels, { app });
            });
        }

        it("the API's environment names the stack's database and Keycloak", () => {
            for (const color of ["blue", "green"] as Color[]) {
                const data = find(run, ConfigMap, `physioflow-api-config-${color}`).inputs.data;
                assert.strictEqual(data.DATABASE_NAME, want.db);
                assert.strictEqual(data.DATABASE_USER, undefined, "the login is the color's own, in its Secret");
                assert.strictEqual(data.KEYCLOAK_REALM, want.realm);
                assert.strictEqual(data.PORT, "7011");
                assert.ok(!JSON.stringify(data).includes("pw-"), "no password in a ConfigMap");
            }
        });

        it("each color's database login (its own role and password) reaches the cluster only as that color's Secret; the owner's password not at all", () => {
            for (const color of ["blue", "green"] as Color[]) {
                const secret = find(run, "kubernetes:core/v1:Secret", `physioflow-secrets-${color}`);
                assert.strictEqual(secret.inputs.metadata.name, undefined, "a fixed name would be replaced delete-first, with every Deployment using it");
                assert.strictEqual(secret.inputs.metadata.namespace, want.namespace);
                assert.ok(isSecretInput(secret.inputs.stringData), "stringData must be a secret");
                assert.deepStrictEqual(secret.inputs.stringData.value, { DATABASE_USER: `emr_${color}`, POSTGRES_PASSWORD: `${color}-pw-${stack}` });
                assert.strictEqual(secret.options.parent, `physioflow:k8s:AppNamespace/${want.namespace}`);
            }
            const cluster = run.resources.filter(r => r.type.startsWith("kubernetes:"));
            assert.ok(!JSON.stringify(cluster.map(r => r.inputs)).includes(`"pw-${stack}"`), "the owner's password must not reach the cluster");
        });

        it("the migration-version ConfigMap is in the namespace", () => {
            const cm = find(run, ConfigMap, "migration-version").inputs;
            assert.strictEqual(cm.metadata.namespace, want.namespace);
            assert.match(cm.data.version, /^\d{3}$/);
        });

        it("exports what a person needs", async () => {
            const o = run.outputs;
            assert.strictEqual(o.activeColor, "blue");
            assert.strictEqual(o.inactiveColor, "green");
            assert.deepStrictEqual(o.tags, { blue: "v1.2.2", green: "v1.2.3" });
            assert.deepStrictEqual(o.replicas.api, { blue: want.replicas, green: 0 });
            assert.deepStrictEqual(o.services, {
                api: "physioflow-api",
                apiPreview: "physioflow-api-preview",
                web: "physioflow-web",
                webPreview: "physioflow-web-preview",
            });
            assert.deepStrictEqual(o.urls, { web: want.web, api: `${want.web}/api` });
            assert.strictEqual(o.namespaceName, want.namespace);
            assert.ok(!JSON.stringify(o).includes(`pw-${stack}`), "no output carries the password");
            for (const [key, value] of Object.entries(run.exports)) {
                // The password digests the next update checks the live color's password against stay secret.
                assert.strictEqual(await pulumi.isSecret(pulumi.output(value)), key === "credentialDigests", `${key}: secret or not`);
            }
            assert.deepStrictEqual(Object.keys(o.credentialDigests), ["blue", "green"]);
            assert.notStrictEqual(o.credentialDigests.blue, o.credentialDigests.green);
            assert.ok(!JSON.stringify(o.credentialDigests).includes("pw-"));
            // What each color runs with, for the next update (settings flow like a tag).
            assert.deepStrictEqual(o.colorSettings.blue, o.colorSettings.green);
            assert.strictEqual(o.colorSettings.blue.api.env.KEYCLOAK_REALM, want.realm);
            assert.match(o.settingsDigest, /^[0-9a-f]{16}$/);
        });
    });
}
