/**
 * The program's cluster half (deployApps) on the real Pulumi engine and kubernetes provider, one
 * stack taken through a first deploy, a release, a switch and a rollback, a bad setting and a
 * preview. Manifests are rendered to a folder; no cluster is involved.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { changedSteps, describeSteps, diagnostics, indexOf, timeline } from "../../local/engineEvents";
import { deploymentSummaries, directorySnapshot, readRenderedObjects, serviceSelectors } from "../../local/renderedManifests";
import { createTestClusterStack, TestClusterStack } from "../support/engine";

const secretSig = "4dabf18193072939515e22adb298388d";
const image = "spec.template.spec.containers[0].image";

describe("the cluster half on the real engine", function () {
    let s: TestClusterStack;
    const liveSelector = (app: string) => serviceSelectors(s.renderDir)[app];

    before(async function () {
        this.timeout(45 * 60 * 1000); // engine.sh builds the engine first when it is missing (~15 min)
        s = await createTestClusterStack("enginetest");
    });
    after(async () => s?.remove());

    it("first deploy: creates both colors of both apps, the Services, ConfigMaps and the Secret, with the password encrypted in the state", async () => {
        const up = await s.up();
        assert.deepStrictEqual(describeSteps(changedSteps(up.steps)), [
            "AppNamespace/physioflow-local create",
            "BlueGreenApp/physioflow-api create",
            "BlueGreenApp/physioflow-web create",
            "ConfigMap/migration-version create",
            "ConfigMap/physioflow-api-config create",
            "ConfigMap/physioflow-web-config create",
            "Deployment/physioflow-api-blue create",
            "Deployment/physioflow-api-green create",
            "Deployment/physioflow-web-blue create",
            "Deployment/physioflow-web-green create",
            "Namespace/physioflow-local create",
            "Secret/physioflow-secrets create",
            "Service/physioflow-api create",
            "Service/physioflow-api-preview create",
            "Service/physioflow-web create",
            "Service/physioflow-web-preview create",
            "Stack/physioflow-enginetest create",
            "provider:kubernetes/k8s create",
        ]);

        const rendered = readRenderedObjects(s.renderDir).map(o => `${o.kind}/${o.name}`).sort();
        assert.deepStrictEqual(rendered, [
            "ConfigMap/migration-version", "ConfigMap/physioflow-api-config", "ConfigMap/physioflow-web-config",
            "Deployment/physioflow-api-blue", "Deployment/physioflow-api-green", "Deployment/physioflow-web-blue", "Deployment/physioflow-web-green",
            "Namespace/physioflow-local", "Secret/physioflow-secrets",
            "Service/physioflow-api", "Service/physioflow-api-preview", "Service/physioflow-web", "Service/physioflow-web-preview",
        ]);
        assert.deepStrictEqual(liveSelector("physioflow-api"), { app: "physioflow-api", version: "blue" });
        assert.deepStrictEqual(liveSelector("physioflow-api-preview"), { app: "physioflow-api", version: "green" });

        // The password as the program passes it and as the provider stores it (base64 in `data`).
        const forms = [s.dbPassword, Buffer.from(s.dbPassword).toString("base64")];
        const stateFile = s.stateFile();
        for (const form of forms) {
            assert.ok(!stateFile.includes(form), `the state file holds the database password in plaintext (${form === s.dbPassword ? "as is" : "base64"})`);
        }
        const stored = (JSON.parse(stateFile).checkpoint.latest.resources as any[])
            .find(r => r.type === "kubernetes:core/v1:Secret");
        for (const field of [stored.inputs.data, stored.outputs.data]) {
            assert.strictEqual(field[secretSig], "1b47061264138c4ac30d75fd1eb44270", "the Secret's data is not stored as a Pulumi secret");
            assert.match(field.ciphertext, /^v1:/);
        }
        // exportStack() runs `pulumi stack export --show-secrets`: decrypted, but still marked secret.
        const exported = (await s.stateResources()).find(r => r.type === "kubernetes:core/v1:Secret");
        assert.strictEqual(exported.inputs.data[secretSig], "1b47061264138c4ac30d75fd1eb44270");
        const settingsFile = fs.readFileSync(path.join(s.stack.workspace.workDir, "Pulumi.enginetest.yaml"), "utf8");
        assert.ok(!settingsFile.includes(s.dbPassword), "the database password is in the stack settings file in plaintext");
    });

    it("release: a new tag for the inactive color updates exactly its two Deployments", async () => {
        await s.set({ greenTag: "v1.1.0" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            `Deployment/physioflow-api-green update [${image}]`,
            `Deployment/physioflow-web-green update [${image}]`,
        ]);

        await s.up();
        const deployments = deploymentSummaries(s.renderDir);
        assert.strictEqual(deployments["physioflow-api-green"].image, "registry.local:5000/physioflow-api:v1.1.0");
        assert.strictEqual(deployments["physioflow-web-green"].image, "registry.local:5000/physioflow-web:v1.1.0");
        assert.strictEqual(deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v1.0.0");

        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "a second preview still shows changes");
    });

    it("switch and rollback: only selectors and replica counts change, in an order that never leaves the live Service on an empty color", async () => {
        await s.set({ activeColor: "green" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            "Deployment/physioflow-api-blue update [spec.replicas]",
            "Deployment/physioflow-api-green update [spec.replicas]",
            "Deployment/physioflow-web-blue update [spec.replicas]",
            "Deployment/physioflow-web-green update [spec.replicas]",
            "Service/physioflow-api update [spec.selector.version]",
            "Service/physioflow-api-preview update [spec.selector.version]",
            "Service/physioflow-web update [spec.selector.version]",
            "Service/physioflow-web-preview update [spec.selector.version]",
        ]);
        assert.ok(preview.steps.every(step => step.replaceBecause.length === 0), "something would be replaced");

        const up = await s.up();
        assert.deepStrictEqual(liveSelector("physioflow-api"), { app: "physioflow-api", version: "green" });
        assert.deepStrictEqual(liveSelector("physioflow-web"), { app: "physioflow-web", version: "green" });
        assert.strictEqual(deploymentSummaries(s.renderDir)["physioflow-api-green"].replicas, 1);
        assert.strictEqual(deploymentSummaries(s.renderDir)["physioflow-api-blue"].replicas, 0);

        const order = timeline(up.events);
        for (const app of ["physioflow-api", "physioflow-web"]) {
            const at = (phase: "start" | "done", type: string, name: string) => {
                const index = indexOf(order, phase, type, name);
                assert.notStrictEqual(index, -1, `no ${phase} event for ${name}`);
                return index;
            };
            const service = "kubernetes:core/v1:Service";
            const deployment = "kubernetes:apps/v1:Deployment";
            assert.ok(at("done", deployment, `${app}-green`) < at("start", service, app),
                `${app}: the live Service was updated before the newly active green Deployment was done`);
            assert.ok(at("done", service, app) < at("start", deployment, `${app}-blue`),
                `${app}: blue was scaled down before the live Service left it`);
        }

        await s.set({ activeColor: "blue" });
        await s.up();
        assert.deepStrictEqual(liveSelector("physioflow-api"), { app: "physioflow-api", version: "blue" });
        assert.deepStrictEqual(liveSelector("physioflow-web"), { app: "physioflow-web", version: "blue" });
    });

    it("bad input stops before harm: activeColor purple fails with one line and changes nothing", async () => {
        const stateBefore = await s.stateResources();
        const renderedBefore = directorySnapshot(s.renderDir);
        await s.set({ activeColor: "purple" });
        try {
            const up = await s.failingUp();
            const line = 'physioflow:activeColor is "purple"; allowed values: blue, green';
            assert.ok(up.result.message.includes(`error: ${line}`), up.result.message);
            assert.deepStrictEqual(diagnostics(up.events, "error"), [line]);
            assert.ok(!/^\s+at /m.test(up.result.message), "the error comes with a stack trace");
            assert.deepStrictEqual(changedSteps(up.steps).map(step => step.name), []);

            assert.deepStrictEqual(liveSelector("physioflow-api"), { app: "physioflow-api", version: "blue" });
            assert.deepStrictEqual(directorySnapshot(s.renderDir), renderedBefore);
            assert.deepStrictEqual(await s.stateResources(), stateBefore);
        } finally {
            await s.set({ activeColor: "blue" });
        }
    });

    it("preview is safe: after a config change it writes no manifest and leaves the state alone", async () => {
        const stateBefore = await s.stateResources();
        const renderedBefore = directorySnapshot(s.renderDir);
        await s.set({ greenTag: "v1.2.0", inactiveReplicas: "1" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            `Deployment/physioflow-api-green update [spec.replicas, ${image}]`,
            `Deployment/physioflow-web-green update [spec.replicas, ${image}]`,
        ]);
        assert.deepStrictEqual(directorySnapshot(s.renderDir), renderedBefore);
        assert.deepStrictEqual(await s.stateResources(), stateBefore);
    });
});
