/**
 * The program's cluster half (deployApps) on the real Pulumi engine and kubernetes provider
 * against a real control plane (kube-apiserver, controller-manager, scheduler, etcd; kwok plays
 * the node and the pods' lifecycle). Every step is checked by reading the live objects back
 * through the API server: Services' selectors and the ready pods in their EndpointSlices,
 * Deployments' images and replicas.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { changedSteps, describeSteps, diagnostics } from "../../release/engineEvents";
import { indexOf, timeline } from "../support/engineTimeline";
import { readClusterState } from "../../release/clusterState";
import { serviceServes, waitForClusterState } from "../support/clusterWait";
import { Cluster } from "../../devenv/cluster";
import { neverReadyStage } from "../../devenv/clusterFaults";
import { failingPodStage, sampleReadyEndpoints } from "../support/clusterFaults";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

const namespace = suiteNamespace("livetest");
const secretSig = "4dabf18193072939515e22adb298388d";
const image = "spec.template.spec.containers[0].image";
const apps = ["physioflow-api", "physioflow-web"];

describe("the cluster half on the real engine and a real control plane", function () {
    let cluster: Cluster;
    let s: TestClusterStack;
    const state = () => readClusterState(cluster.kubectl, namespace);
    /** Waits until both apps' live Services serve `color` with `replicas` ready pods and the preview Services the other color's `previewReplicas`. */
    const serving = (color: "blue" | "green", replicas: number, previewReplicas: number) =>
        waitForClusterState(
            cluster.kubectl,
            namespace,
            st =>
                apps.every(
                    app => serviceServes(st, app, color, replicas) && serviceServes(st, `${app}-preview`, color === "blue" ? "green" : "blue", previewReplicas),
                ),
            { what: `live Services on ${color} with ${replicas} ready pod(s)` },
        );

    before(async function () {
        this.timeout(60 * 60 * 1000); // engine.sh and cluster.sh build what is missing first (~35 min cold)
        cluster = await sharedCluster();
        s = await createTestClusterStack("livetest", { kubeconfig: cluster.kubeconfigPath, namespace });
    });
    after(async () => {
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
    });

    it("first deploy: both colors of both apps; the live Services' endpoints hold blue's ready pods; the password is encrypted in the state", async () => {
        const started = Date.now();
        const up = await s.up();
        // The provider copies the kubeconfig into TMPDIR at each run and never removes it: into this
        // process's engine temp directory (removed with it), not the system's (devenv/engineTemp.ts).
        const engineTemp = s.stack.workspace.envVars.TMPDIR;
        assert.ok(engineTemp !== undefined && path.basename(engineTemp).startsWith("physioflow-pulumi-tmp-"), `TMPDIR ${engineTemp}`);
        assert.ok(
            fs.readdirSync(engineTemp).some(name => name.startsWith("kubeconfig")),
            "the provider wrote no kubeconfig copy into the engine's TMPDIR",
        );
        const leaked = fs
            .readdirSync(os.tmpdir())
            .filter(name => /^kubeconfig\d+$/.test(name) && fs.statSync(path.join(os.tmpdir(), name)).mtimeMs >= started - 1000);
        assert.deepStrictEqual(leaked, [], `kubeconfig copies in ${os.tmpdir()} since this update began`);
        assert.deepStrictEqual(
            describeSteps(changedSteps(up.steps)).filter(step => !step.startsWith("Stack/")),
            [
                `AppNamespace/${namespace} create`,
                "BlueGreenApp/physioflow-api create",
                "BlueGreenApp/physioflow-web create",
                "ConfigMap/migration-version create",
                "ConfigMap/physioflow-api-config-blue create",
                "ConfigMap/physioflow-api-config-green create",
                "ConfigMap/physioflow-web-config-blue create",
                "ConfigMap/physioflow-web-config-green create",
                "Deployment/physioflow-api-blue create",
                "Deployment/physioflow-api-green create",
                "Deployment/physioflow-web-blue create",
                "Deployment/physioflow-web-green create",
                "Job/physioflow-smoke-blue create",
                `Namespace/${namespace} create`,
                "Secret/physioflow-secrets-blue create",
                "Secret/physioflow-secrets-green create",
                "Service/physioflow-api create",
                "Service/physioflow-api-blue create",
                "Service/physioflow-api-green create",
                "Service/physioflow-api-preview create",
                "Service/physioflow-web create",
                "Service/physioflow-web-blue create",
                "Service/physioflow-web-green create",
                "Service/physioflow-web-preview create",
                "SmokeTest/physioflow-smoke-blue create",
                // Last: what stops an update whose program was cut short from deleting (components/stackGuard.ts).
                "StackGuard/physioflow-stack-guard create",
                "provider:kubernetes/k8s create",
                // For the program's read of its own last outputs (the live tag guard).
                "provider:pulumi/default create",
            ],
        );
        // The smoke test ran (kwok completes a Job's pods) before the live Services were created.
        const job = await cluster.getJson(["job", "physioflow-smoke-blue", "-n", namespace]);
        assert.strictEqual(job.status.succeeded, 1);
        const order = timeline(up.events);
        for (const app of apps) {
            assert.ok(indexOf(order, "done", "kubernetes:batch/v1:Job", "physioflow-smoke-blue") < indexOf(order, "start", "kubernetes:core/v1:Service", app));
        }
        const live = await serving("blue", 1, 0);
        assert.deepStrictEqual(live.services["physioflow-api"].selector, { app: "physioflow-api", version: "blue" });
        assert.deepStrictEqual(live.services["physioflow-api-preview"].selector, { app: "physioflow-api", version: "green" });
        for (const app of apps) {
            assert.deepStrictEqual(live.deployments[`${app}-blue`], {
                image: `registry.local:5000/${app}:v1.0.0`,
                replicas: 1,
                readyReplicas: 1,
                updatedReplicas: 1,
                availableReplicas: 1,
                observed: true,
            });
            assert.deepStrictEqual(live.deployments[`${app}-green`], {
                image: `registry.local:5000/${app}:v1.0.0`,
                replicas: 0,
                readyReplicas: 0,
                updatedReplicas: 0,
                availableReplicas: 0,
                observed: true,
            });
        }
        for (const color of ["blue", "green"] as const) {
            // Each color logs in as its own role with its own password; the owner's password stays out of the cluster.
            const secret = await colorSecret(color);
            assert.deepStrictEqual(secret.data, { DATABASE_USER: `physioflow_${color}`, POSTGRES_PASSWORD: s.colorPasswords[color] });
            assert.match(secret.name, new RegExp(`^physioflow-secrets-${color}-[a-z0-9]{8}$`));
        }

        // The passwords as the program passes them and as the provider stores them (base64 in `data`).
        const stateFile = s.stateFile();
        for (const password of [s.colorPasswords.blue, s.colorPasswords.green]) {
            for (const form of [password, Buffer.from(password).toString("base64")]) {
                assert.ok(!stateFile.includes(form), `the state file holds a database password in plaintext (${form === password ? "as is" : "base64"})`);
            }
        }
        const stored = (JSON.parse(stateFile).checkpoint.latest.resources as any[]).filter(r => r.type === "kubernetes:core/v1:Secret");
        assert.strictEqual(stored.length, 2);
        for (const field of stored.flatMap(secret => [secret.inputs.data, secret.outputs.data])) {
            assert.strictEqual(field[secretSig], "1b47061264138c4ac30d75fd1eb44270", "a Secret's data is not stored as a Pulumi secret");
        }
        const settingsFile = fs.readFileSync(path.join(s.stack.workspace.workDir, "Pulumi.livetest.yaml"), "utf8");
        for (const password of [s.dbPassword, s.colorPasswords.blue, s.colorPasswords.green]) {
            assert.ok(!settingsFile.includes(password), "a database password is in the stack settings file in plaintext");
        }
    });

    it("release: a new tag for the inactive color updates exactly its Deployments; the live Services stay on blue", async () => {
        await s.set({ greenTag: "v1.1.0" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            `Deployment/physioflow-api-green update [${image}]`,
            `Deployment/physioflow-web-green update [${image}]`,
        ]);
        await s.up();
        const live = await serving("blue", 1, 0);
        assert.strictEqual(live.deployments["physioflow-api-green"].image, "registry.local:5000/physioflow-api:v1.1.0");
        assert.strictEqual(live.deployments["physioflow-web-green"].image, "registry.local:5000/physioflow-web:v1.1.0");
        assert.strictEqual(live.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v1.0.0");
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "a preview after the update still shows changes (drift against the live objects)");
    });

    it("switch and rollback: the live endpoints move to the other color's ready pods and are never empty on the way", async () => {
        await s.set({ activeColor: "green" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            'Deployment/physioflow-api-blue update [metadata.annotations["pulumi.com/waitFor"], spec.replicas]',
            'Deployment/physioflow-api-green update [metadata.annotations["pulumi.com/waitFor"], spec.replicas]',
            'Deployment/physioflow-web-blue update [metadata.annotations["pulumi.com/waitFor"], spec.replicas]',
            'Deployment/physioflow-web-green update [metadata.annotations["pulumi.com/waitFor"], spec.replicas]',
            "Job/physioflow-smoke-blue delete",
            "Job/physioflow-smoke-green create",
            "Service/physioflow-api update [spec.selector.version]",
            "Service/physioflow-api-preview update [spec.selector.version]",
            "Service/physioflow-web update [spec.selector.version]",
            "Service/physioflow-web-preview update [spec.selector.version]",
            "SmokeTest/physioflow-smoke-blue delete",
            "SmokeTest/physioflow-smoke-green create",
        ]);

        const sampler = await sampleReadyEndpoints(cluster, namespace, "physioflow-api");
        const up: { events: EngineEvent[] } = { events: [] };
        const received: number[] = [];
        await s.stack.up({
            onEvent: event => {
                up.events.push(event);
                received.push(Date.now());
            },
        });
        const samples = await sampler.stop();
        let live = await serving("green", 1, 0);
        assert.strictEqual(live.deployments["physioflow-api-blue"].replicas, 0);
        assert.deepStrictEqual(samples[0].colors, ["blue"], `the watch did not start from blue's endpoints: ${JSON.stringify(samples)}`);
        assert.ok(
            samples.every(sample => sample.ready > 0),
            `the live Service had no ready endpoint during the switch: ${JSON.stringify(samples)}`,
        );
        assert.ok(
            samples.some(sample => sample.colors.includes("green")),
            "the sampler never saw green serve",
        );

        // The order the engine used: new color ready before the live Service moves, old color scaled down after.
        const order = timeline(up.events);
        for (const app of apps) {
            const at = (phase: "start" | "done", type: string, name: string) => {
                const index = indexOf(order, phase, type, name);
                assert.notStrictEqual(index, -1, `no ${phase} event for ${name}`);
                return index;
            };
            // Both apps' green Deployments, then green's smoke test, then the live Services.
            for (const other of apps) {
                assert.ok(at("done", "kubernetes:apps/v1:Deployment", `${other}-green`) < at("start", "kubernetes:batch/v1:Job", "physioflow-smoke-green"));
            }
            assert.ok(at("done", "kubernetes:batch/v1:Job", "physioflow-smoke-green") < at("start", "kubernetes:core/v1:Service", app));
            assert.ok(at("done", "kubernetes:core/v1:Service", app) < at("start", "kubernetes:apps/v1:Deployment", `${app}-blue`));
            // ...and only scaleDownDelaySeconds (the default, 10) after the live Service moved: kube-proxy's time.
            const when = (found: (event: EngineEvent) => boolean) => received[up.events.findIndex(found)];
            const moved = when(e => e.resOutputsEvent?.metadata.urn.endsWith(`kubernetes:core/v1:Service::${app}`) === true);
            const scaled = when(e => e.resourcePreEvent?.metadata.urn.endsWith(`kubernetes:apps/v1:Deployment::${app}-blue`) === true);
            assert.ok(scaled - moved >= 10_000, `${app}-blue was scaled down ${scaled - moved} ms after ${app} moved`);
        }

        await s.set({ activeColor: "blue" });
        await s.up();
        live = await serving("blue", 1, 0);
        assert.strictEqual(live.deployments["physioflow-api-green"].replicas, 0);
    });

    it("a broken color is never switched to: its pods never become ready, up fails within the readiness timeout, blue keeps serving", async function () {
        this.timeout(3 * 60 * 1000);
        await s.set({ readinessTimeoutSeconds: "15" });
        // The Stage first: kwok picks it up while the update below runs, before any green pod exists.
        await cluster.kubectl(["apply", "-f", "-"], neverReadyStage("test-green-never-ready", namespace, { version: "green" }));
        await s.up();
        try {
            await s.set({ activeColor: "green", greenTag: "v1.2.0-broken" });
            const sampler = await sampleReadyEndpoints(cluster, namespace, "physioflow-api");
            const started = Date.now();
            const up = await s.failingUp();
            const seconds = (Date.now() - started) / 1000;
            const samples = await sampler.stop();
            // The provider awaits 10 s past the timeout; the rest is the engine under load (3 workers on 2 cores),
            // far below the 300 s default this setting replaces.
            assert.ok(seconds >= 15 && seconds < 15 + 10 + 40, `up took ${seconds}s to fail; the readiness timeout is 15s`);
            assert.match(
                up.result.message,
                new RegExp(`"${namespace}/physioflow-(api|web)-green" failed to fully initialize or become live: timed out waiting for the condition`),
                up.result.message,
            );

            // The live Services never moved: blue serves, at full replicas; green has its pod, not ready.
            const live = await waitForClusterState(cluster.kubectl, namespace, st => apps.every(app => serviceServes(st, app, "blue", 1)), {
                what: "the live Services on blue",
            });
            for (const app of apps) {
                assert.deepStrictEqual(live.deployments[`${app}-blue`], {
                    image: `registry.local:5000/${app}:v1.0.0`,
                    replicas: 1,
                    readyReplicas: 1,
                    updatedReplicas: 1,
                    availableReplicas: 1,
                    observed: true,
                });
                assert.strictEqual(live.deployments[`${app}-green`].readyReplicas, 0);
                assert.deepStrictEqual(live.services[app].selector.version, "blue");
            }
            assert.ok(
                samples.every(sample => sample.ready > 0 && sample.colors.every(c => c === "blue")),
                `the live Service did not stay on blue's ready pods: ${JSON.stringify(samples)}`,
            );
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-green-never-ready"]);
            await s.set({ activeColor: "blue", greenTag: "v1.1.0", readinessTimeoutSeconds: "300" });
        }
        // Recovery is a plain update back to the declared blue.
        await s.up();
        await serving("blue", 1, 0);
    });

    it("a failing smoke test stops the switch: green's pods are ready, its smoke test fails, the live Services never leave blue", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-green-smoke-fails", namespace, { app: "physioflow-smoke", version: "green" }));
        try {
            await s.set({ activeColor: "green" });
            const sampler = await sampleReadyEndpoints(cluster, namespace, "physioflow-api");
            const up = await s.failingUp();
            const samples = await sampler.stop();
            assert.match(up.result.message, /physioflow-smoke-green/, up.result.message);
            const job = await cluster.getJson(["job", "physioflow-smoke-green", "-n", namespace]);
            assert.strictEqual(job.status.failed, 1);
            assert.strictEqual(job.status.succeeded ?? 0, 0);
            const live = await state();
            for (const app of apps) {
                assert.strictEqual(live.services[app].selector.version, "blue");
                assert.ok(serviceServes(live, app, "blue", 1), `${app} does not serve blue`);
                // Green came up and was ready: only its smoke test stood between it and traffic.
                assert.strictEqual(live.deployments[`${app}-green`].readyReplicas, 1);
            }
            assert.ok(
                timeline(up.events).every(entry => !(entry.type === "kubernetes:core/v1:Service" && apps.includes(entry.name))),
                "the update started on a live Service",
            );
            assert.ok(
                samples.length > 0 && samples.every(sample => sample.ready > 0 && sample.colors.every(c => c === "blue")),
                `the live Service did not stay on blue's ready pods: ${JSON.stringify(samples)}`,
            );
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-green-smoke-fails"]);
            await s.set({ activeColor: "blue" });
        }
        // Back to the declared blue: green is scaled down and, with no pods, has no smoke test.
        await s.up();
        await serving("blue", 1, 0);
        assert.match(await cluster.kubectl(["get", "jobs", "-n", namespace, "-o", "name"]), /^job\.batch\/physioflow-smoke-blue\n$/);
    });

    it("after a migration the live color is smoke-tested again; when that fails the release stops and blue still serves", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-blue-smoke-fails", namespace, { app: "physioflow-smoke", version: "blue" }));
        const jobUrn = (await s.stateResources()).find(r => r.type === "kubernetes:batch/v1:Job" && r.urn.endsWith("::physioflow-smoke-blue"))!.urn;
        try {
            // A release that comes with a migration the live code cannot live with.
            await s.set({ migrationTarget: "004", greenTag: "v1.2.0" });
            const up = await s.failingUp();
            assert.match(up.result.message, /physioflow-smoke-blue/, up.result.message);
            const job = await cluster.getJson(["job", "physioflow-smoke-blue", "-n", namespace]);
            assert.strictEqual(job.spec.template.metadata.annotations["physioflow/migration-version"], "004");
            assert.strictEqual(job.status.failed, 1);
            const live = await state();
            for (const app of apps) {
                assert.ok(serviceServes(live, app, "blue", 1), `${app} does not serve blue`);
                // The release went no further: green still has the old tag.
                assert.strictEqual(live.deployments[`${app}-green`].image, `registry.local:5000/${app}:v1.1.0`);
            }
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-smoke-fails"]);
            await s.set({ greenTag: "v1.1.0" });
        }
        // Once the cause is fixed, the test is run again by replacing its Job.
        await s.stack.up({ replace: [jobUrn] });
        assert.strictEqual((await cluster.getJson(["job", "physioflow-smoke-blue", "-n", namespace])).status.succeeded, 1);
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);
        await serving("blue", 1, 0);
    });

    it("a change Kubernetes refuses (an admission policy) fails up with the API server's own message, nothing else changes", async () => {
        await cluster.kubectl(["apply", "-f", "-"], noReleaseCandidatesPolicy());
        const before = await state();
        const identities = await deploymentIdentities(cluster);
        try {
            await s.set({ greenTag: "v1.4.0-rc1" });
            const up = await s.failingUp();
            assert.match(up.result.message, /denied request: physioflow-test-policy: no release candidates in this namespace/, up.result.message);
            assert.deepStrictEqual(
                describeSteps(changedSteps(up.steps)),
                [`Deployment/physioflow-api-green update [${image}]`, `Deployment/physioflow-web-green update [${image}]`],
                "the update attempted more than the refused change",
            );
            assert.deepStrictEqual(await state(), before);
            assert.deepStrictEqual(await deploymentIdentities(cluster), identities);
        } finally {
            await cluster.kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "physioflow-no-rc"]);
            await s.set({ greenTag: "v1.1.0" });
        }
        // The next update reconciles what the refused one left in the state; then nothing is pending.
        await s.up();
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);
        assert.deepStrictEqual(await state(), before);
    });

    it("migration-version (a fixed name) is replaced with no conflict and no Deployment or pod touched; the owner's password changes nothing in the cluster", async () => {
        const deploymentsBefore = await deploymentIdentities(cluster);
        await s.set({ migrationTarget: "005" });
        await s.stack.setConfig("physioflow:dbPassword", { value: "rotated-db-password", secret: true });
        const preview = await s.preview();
        assert.deepStrictEqual(
            describeSteps(changedSteps(preview.steps)),
            [
                "ConfigMap/migration-version create-replacement [data.version]",
                "ConfigMap/migration-version delete-replaced",
                "ConfigMap/migration-version replace [data.version]",
                // The new migration version re-runs the live color's smoke test (delete, then create: a fixed
                // name). The version comes from the replaced ConfigMap, unknown in a preview: no paths shown.
                "Job/physioflow-smoke-blue create-replacement",
                "Job/physioflow-smoke-blue delete-replaced",
                "Job/physioflow-smoke-blue replace",
            ],
            "a replaced ConfigMap takes Deployments with it, or the owner's password reached the cluster",
        );
        await s.up();
        assert.deepStrictEqual((await cluster.getJson(["configmap", "migration-version", "-n", namespace])).data, { version: "005" });
        assert.deepStrictEqual(await deploymentIdentities(cluster), deploymentsBefore);
        await serving("blue", 1, 0);
    });

    it("a password rotation and a settings change reach only the inactive color, are smoke-tested there and take traffic with a switch; a switch back returns to the old settings; the live color's password cannot change in place; blue's Deployments and pods are never touched", async () => {
        const blueBefore = colorIdentities(await deploymentIdentities(cluster), "blue");
        const blueSecretBefore = await colorSecret("blue");
        const blueConfigBefore = await colorConfig("physioflow-api", "blue");
        const greenSecretBefore = await colorSecret("green");
        await s.set({ keycloakUrl: "http://keycloak-2.example.test", inactiveWarm: "true" });
        await s.stack.setConfig("physioflow:greenDbPassword", { value: "green-rotated", secret: true });
        try {
            const preview = await s.preview();
            // Green gets pods (warm), and its pod template the new objects' names: that is what rolls its pods.
            const greenPods =
                `metadata.annotations["pulumi.com/waitFor"], spec.replicas, ` +
                "spec.template.spec.containers[0].envFrom[0].configMapRef.name, spec.template.spec.containers[0].envFrom[1].secretRef.name";
            assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
                "ConfigMap/physioflow-api-config-green create-replacement [data.KEYCLOAK_URL]",
                "ConfigMap/physioflow-api-config-green delete-replaced",
                "ConfigMap/physioflow-api-config-green replace [data.KEYCLOAK_URL]",
                "ConfigMap/physioflow-web-config-green create-replacement [data.NEXT_PUBLIC_KEYCLOAK_URL]",
                "ConfigMap/physioflow-web-config-green delete-replaced",
                "ConfigMap/physioflow-web-config-green replace [data.NEXT_PUBLIC_KEYCLOAK_URL]",
                `Deployment/physioflow-api-green update [${greenPods}]`,
                `Deployment/physioflow-web-green update [${greenPods}]`,
                "Job/physioflow-smoke-green create",
                "Secret/physioflow-secrets-green create-replacement [data.POSTGRES_PASSWORD]",
                "Secret/physioflow-secrets-green delete-replaced",
                "Secret/physioflow-secrets-green replace [data.POSTGRES_PASSWORD]",
                "SmokeTest/physioflow-smoke-green create",
            ]);
            await s.up();
            await serving("blue", 1, 1);
            assert.deepStrictEqual(colorIdentities(await deploymentIdentities(cluster), "blue"), blueBefore);
            assert.deepStrictEqual(await colorSecret("blue"), blueSecretBefore);
            assert.deepStrictEqual(await colorConfig("physioflow-api", "blue"), blueConfigBefore);
            const greenSecret = await colorSecret("green");
            assert.notStrictEqual(greenSecret.name, greenSecretBefore.name, "a new credential is a new Secret (its pods roll onto it)");
            assert.deepStrictEqual(greenSecret.data, { DATABASE_USER: "physioflow_green", POSTGRES_PASSWORD: "green-rotated" });
            const greenConfig = await colorConfig("physioflow-api", "green");
            assert.strictEqual(greenConfig.data.KEYCLOAK_URL, "http://keycloak-2.example.test");
            const greenDeployment = await cluster.getJson(["deployment", "physioflow-api-green", "-n", namespace]);
            assert.deepStrictEqual(greenDeployment.spec.template.spec.containers[0].envFrom, [
                { configMapRef: { name: greenConfig.name } },
                { secretRef: { name: greenSecret.name } },
            ]);
            const smoke = await cluster.getJson(["job", "physioflow-smoke-green", "-n", namespace]);
            assert.strictEqual(smoke.status.succeeded, 1);
            assert.ok(smoke.spec.template.metadata.annotations["physioflow/release"].includes(greenSecret.name));

            // The switch: traffic to green, with its new settings and login; blue stays warm with its old ones.
            await s.set({ activeColor: "green" });
            await s.up();
            await serving("green", 1, 1);
            assert.deepStrictEqual(colorIdentities(await deploymentIdentities(cluster), "blue"), blueBefore);

            // A switch back is a flip of selectors: blue serves again with the settings it was released with.
            await s.set({ activeColor: "blue" });
            const back = await s.preview();
            assert.ok(
                describeSteps(changedSteps(back.steps)).every(step => !/^(ConfigMap|Secret|Deployment)\//.test(step)),
                `a switch back changes settings or pods: ${describeSteps(changedSteps(back.steps)).join("; ")}`,
            );
            await s.up();
            await serving("blue", 1, 1);
            assert.deepStrictEqual(await colorConfig("physioflow-api", "blue"), blueConfigBefore);
            assert.deepStrictEqual(colorIdentities(await deploymentIdentities(cluster), "blue"), blueBefore);
            assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "a switch back left something pending");

            // The live color's password is refused before anything changes.
            await s.stack.setConfig("physioflow:blueDbPassword", { value: "blue-rotated-in-place", secret: true });
            const refused = await s.failingUp();
            assert.deepStrictEqual(changedSteps(refused.steps), []);
            assert.match(
                diagnostics(refused.events, "error").join("\n"),
                /^physioflow:blueDbPassword changed while blue is live: blue's pods would lose their database login/,
            );
            assert.deepStrictEqual(await colorSecret("blue"), blueSecretBefore);
        } finally {
            await s.stack.setConfig("physioflow:blueDbPassword", { value: s.colorPasswords.blue, secret: true });
            await s.set({ activeColor: "blue", inactiveWarm: "false", keycloakUrl: "http://keycloak.example.test" });
        }
        await s.up();
        await serving("blue", 1, 0);
        assert.deepStrictEqual(colorIdentities(await deploymentIdentities(cluster), "blue"), blueBefore);
    });

    it("probes as the API server stores them (startup and readiness on the health path, liveness a TCP check only); a new threshold is a setting: it reaches only the inactive color", async () => {
        const blueBefore = colorIdentities(await deploymentIdentities(cluster), "blue");
        const container = async (name: string) => (await cluster.getJson(["deployment", name, "-n", namespace])).spec.template.spec.containers[0];
        const probes = (c: any) => ({
            startup: [c.startupProbe.httpGet?.path, c.startupProbe.httpGet?.port, c.startupProbe.periodSeconds, c.startupProbe.failureThreshold],
            readiness: [c.readinessProbe.httpGet?.path, c.readinessProbe.httpGet?.port, c.readinessProbe.failureThreshold],
            liveness: [c.livenessProbe.tcpSocket?.port, c.livenessProbe.httpGet, c.livenessProbe.failureThreshold],
        });
        assert.deepStrictEqual(probes(await container("physioflow-api-blue")), {
            startup: ["/health", 7011, 5, 24],
            readiness: ["/health", 7011, 3],
            liveness: [7011, undefined, 3],
        });
        assert.deepStrictEqual(probes(await container("physioflow-web-blue")), {
            startup: ["/", 3000, 5, 24],
            readiness: ["/", 3000, 3],
            liveness: [3000, undefined, 3],
        });

        await s.set({ startupTimeoutSeconds: "300" });
        try {
            assert.deepStrictEqual(describeSteps(changedSteps((await s.preview()).steps)), [
                "Deployment/physioflow-api-green update [spec.template.spec.containers[0].startupProbe.failureThreshold]",
                "Deployment/physioflow-web-green update [spec.template.spec.containers[0].startupProbe.failureThreshold]",
            ]);
            await s.up();
            assert.strictEqual((await container("physioflow-api-green")).startupProbe.failureThreshold, 60);
            assert.strictEqual((await container("physioflow-api-blue")).startupProbe.failureThreshold, 24);
            assert.deepStrictEqual(colorIdentities(await deploymentIdentities(cluster), "blue"), blueBefore);
        } finally {
            await s.set({ startupTimeoutSeconds: "120" });
        }
        await s.up();
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);
        assert.strictEqual((await container("physioflow-api-green")).startupProbe.failureThreshold, 24);
    });

    /** A color's Secret (labelled by AppNamespace): its engine-given name and its decoded data. */
    const colorSecret = async (color: string) => {
        const items = (await cluster.getJson(["secrets", "-n", namespace, "-l", `app.kubernetes.io/part-of=physioflow,version=${color}`])).items as any[];
        assert.strictEqual(items.length, 1, `${items.length} Secrets of ${color}`);
        const data = Object.fromEntries(Object.entries(items[0].data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
        return { name: items[0].metadata.name as string, data };
    };
    /** An app's ConfigMap of a color: its engine-given name and data. */
    const colorConfig = async (app: string, color: string) => {
        const items = (await cluster.getJson(["configmaps", "-n", namespace, "-l", `app=${app},version=${color}`])).items as any[];
        assert.strictEqual(items.length, 1, `${items.length} ConfigMaps of ${app} ${color}`);
        return { name: items[0].metadata.name as string, data: items[0].data as Record<string, string> };
    };

    it("a hand edit of a live Service (the runbook's kubectl patch) shows as drift after a refresh, and up restores the declared color without a conflict", async () => {
        await cluster.kubectl(["patch", "svc", "physioflow-api", "-n", namespace, "-p", '{"spec":{"selector":{"version":"green"}}}']);
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "a preview without refresh compares with the state, not the cluster");
        await s.stack.refresh();
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), ["Service/physioflow-api update [spec.selector.version]"]);
        await s.up();
        const live = await serving("blue", 1, 0);
        assert.deepStrictEqual(live.services["physioflow-api"].selector, { app: "physioflow-api", version: "blue" });
        await s.stack.refresh();
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);
    });

    it("bad input stops before harm: activeColor purple fails with one line and the cluster is untouched", async () => {
        const before = await deploymentIdentities(cluster);
        const stateBefore = await s.stateResources();
        await s.set({ activeColor: "purple" });
        try {
            const up = await s.failingUp();
            const line = 'physioflow:activeColor is "purple"; allowed values: blue, green';
            assert.deepStrictEqual(diagnostics(up.events, "error"), [line]);
            assert.ok(!/^\s+at /m.test(up.result.message), "the error comes with a stack trace");
            assert.deepStrictEqual(changedSteps(up.steps), []);
            assert.deepStrictEqual(await deploymentIdentities(cluster), before);
            assert.deepStrictEqual(await s.stateResources(), stateBefore);
        } finally {
            await s.set({ activeColor: "blue" });
        }
    });

    it("changing the live color's tag in place is refused from the stack's own last outputs, before anything changes", async () => {
        const before = await deploymentIdentities(cluster);
        const stateBefore = await s.stateResources();
        await s.set({ blueTag: "v1.9.0" });
        try {
            const up = await s.failingUp();
            assert.deepStrictEqual(diagnostics(up.events, "error"), [
                "physioflow:blueTag v1.0.0 -> v1.9.0 would replace the live color's pods in place (blue is active); release to green instead: " +
                    "pulumi config set blueTag v1.0.0 && pulumi config set greenTag v1.9.0, pulumi up, then pulumi config set activeColor green",
            ]);
            assert.deepStrictEqual(changedSteps(up.steps), []);
            assert.deepStrictEqual(await deploymentIdentities(cluster), before);
            assert.deepStrictEqual(await s.stateResources(), stateBefore);
        } finally {
            await s.set({ blueTag: "v1.0.0" });
        }
    });

    it("preview changes nothing on the cluster", async () => {
        const before = await resourceVersions(cluster);
        await s.set({ greenTag: "v1.3.0", inactiveReplicas: "1", activeColor: "green" });
        try {
            const preview = await s.preview();
            const green = `metadata.annotations["pulumi.com/waitFor"], spec.replicas, ${image}`;
            assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
                `Deployment/physioflow-api-green update [${green}]`,
                `Deployment/physioflow-web-green update [${green}]`,
                "Job/physioflow-smoke-green create",
                "Service/physioflow-api update [spec.selector.version]",
                "Service/physioflow-api-preview update [spec.selector.version]",
                "Service/physioflow-web update [spec.selector.version]",
                "Service/physioflow-web-preview update [spec.selector.version]",
                "SmokeTest/physioflow-smoke-green create",
            ]);
            assert.deepStrictEqual(await resourceVersions(cluster), before);
        } finally {
            await s.set({ greenTag: "v1.1.0", inactiveReplicas: "0", activeColor: "blue" });
        }
    });
});

/** Each Deployment's uid and generation, and its pods' uids (smoke test pods left out): what changes if anything touches them. */
async function deploymentIdentities(cluster: Cluster): Promise<Record<string, unknown>> {
    const deployments = (await cluster.getJson(["deployments", "-n", namespace])).items as any[];
    const pods = (await cluster.getJson(["pods", "-n", namespace, "-l", "app!=physioflow-smoke"])).items as any[];
    return {
        deployments: Object.fromEntries(deployments.map(d => [d.metadata.name, `${d.metadata.uid}@${d.metadata.generation}`])),
        pods: pods.map(p => p.metadata.uid).sort(),
        podsByName: pods.map(p => [p.metadata.name, p.metadata.uid]).sort(),
    };
}

/** The part of {@link deploymentIdentities} that is one color's: its Deployments and their pods. */
function colorIdentities(identities: Record<string, any>, color: string): Record<string, unknown> {
    return {
        deployments: Object.fromEntries(Object.entries(identities.deployments).filter(([name]) => name.endsWith(`-${color}`))),
        pods: (identities.podsByName as [string, string][])
            .filter(([name]) => name.includes(`-${color}-`))
            .map(([, uid]) => uid)
            .sort(),
    };
}

/** Every object's resourceVersion in the namespace: any write changes one. */
async function resourceVersions(cluster: Cluster): Promise<Record<string, string>> {
    const items = (await cluster.getJson(["deployments,services,configmaps,secrets,pods,jobs", "-n", namespace])).items as any[];
    return Object.fromEntries(items.map(o => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]));
}

/** A cluster policy, as a team might have one, that refuses release-candidate images in the namespace. */
function noReleaseCandidatesPolicy(): string {
    return `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: physioflow-no-rc }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "!object.spec.template.spec.containers.exists(c, c.image.contains('-rc'))"
    message: "physioflow-test-policy: no release candidates in this namespace"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: physioflow-no-rc }
spec:
  policyName: physioflow-no-rc
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: { kubernetes.io/metadata.name: ${namespace} }
`;
}
