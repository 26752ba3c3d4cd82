/**
 * `renderYamlTo`: the stack writes the manifests a cluster would be sent to a folder and contacts
 * no cluster (for reviewing a change offline). Real engine and kubernetes provider; the cluster
 * behaviour itself is proven in liveCluster.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { changedSteps, describeSteps } from "../../release/engineEvents";
import { deploymentSummaries, directorySnapshot, readRenderedObjects, serviceSelectors } from "../support/renderedManifests";
import { createTestClusterStack, testEngine, TestClusterStack } from "../support/engine";
import { openClusterStack } from "../../local/clusterStack";
import { repairFileBackend, selectRepairedStack } from "../../release/stateBackend";
import { lastOutputs, upStack } from "../../release/stackEngine";

const image = "spec.template.spec.containers[0].image";

describe("the cluster half rendered to a folder (renderYamlTo)", function () {
    let s: TestClusterStack;

    before(async function () {
        this.timeout(45 * 60 * 1000); // engine.sh builds the engine first when it is missing (~15 min)
        s = await createTestClusterStack("rendertest", { render: true });
    });
    after(async () => s?.remove());

    it("writes every object of both colors, with the live Services on the active color", async () => {
        await s.up();
        // Each color's ConfigMaps and Secret have a suffix the engine picks (8 characters), shown here as -*.
        const rendered = readRenderedObjects(s.renderDir)
            .map(o => `${o.kind}/${o.name.replace(/-(blue|green)-[a-z0-9]{8}$/, "-$1-*")}`)
            .sort();
        assert.deepStrictEqual(rendered, [
            "ConfigMap/migration-version",
            "ConfigMap/physioflow-api-config-blue-*",
            "ConfigMap/physioflow-api-config-green-*",
            "ConfigMap/physioflow-web-config-blue-*",
            "ConfigMap/physioflow-web-config-green-*",
            "Deployment/physioflow-api-blue",
            "Deployment/physioflow-api-green",
            "Deployment/physioflow-web-blue",
            "Deployment/physioflow-web-green",
            "Job/physioflow-smoke-blue",
            "Namespace/physioflow-local",
            "Secret/physioflow-secrets-blue-*",
            "Secret/physioflow-secrets-green-*",
            "Service/physioflow-api",
            "Service/physioflow-api-blue",
            "Service/physioflow-api-green",
            "Service/physioflow-api-preview",
            "Service/physioflow-web",
            "Service/physioflow-web-blue",
            "Service/physioflow-web-green",
            "Service/physioflow-web-preview",
        ]);
        assert.deepStrictEqual(serviceSelectors(s.renderDir)["physioflow-api"], { app: "physioflow-api", version: "blue" });
        assert.deepStrictEqual(serviceSelectors(s.renderDir)["physioflow-api-preview"], { app: "physioflow-api", version: "green" });
        assert.strictEqual(deploymentSummaries(s.renderDir)["physioflow-api-blue"].replicas, 1);
    });

    it("a preview writes no manifest and leaves the state alone; the update then rewrites the changed objects", async () => {
        const stateBefore = await s.stateResources();
        const renderedBefore = directorySnapshot(s.renderDir);
        await s.set({ greenTag: "v1.2.0" });
        const preview = await s.preview();
        assert.deepStrictEqual(describeSteps(changedSteps(preview.steps)), [
            `Deployment/physioflow-api-green update [${image}]`,
            `Deployment/physioflow-web-green update [${image}]`,
        ]);
        assert.deepStrictEqual(directorySnapshot(s.renderDir), renderedBefore);
        assert.deepStrictEqual(await s.stateResources(), stateBefore);
        await s.up();
        assert.strictEqual(deploymentSummaries(s.renderDir)["physioflow-api-green"].image, "registry.local:5000/physioflow-api:v1.2.0");
    });

    it("an update whose program registered nothing (cut short, returned early, lost the apps) fails at the stack guard and deletes nothing", async () => {
        const stateBefore = await s.stateResources();
        const renderedBefore = directorySnapshot(s.renderDir);
        // The objects the stack made (its StackReference, a read of its own outputs, and providers are none).
        const objects = (state: typeof stateBefore) =>
            state
                .filter(r => !r.type.startsWith("pulumi:"))
                .map(r => `${r.urn} ${r.id ?? ""} ${JSON.stringify((r as { outputs?: unknown }).outputs ?? {})}`)
                .sort();
        assert.ok(objects(stateBefore).length > 20);
        const outputsBefore = await lastOutputs(s.stack);
        const deletes: string[] = [];
        await assert.rejects(
            upStack(s.stack, {
                program: async () => ({}),
                onEvent: e => e.resourcePreEvent?.metadata.op === "delete" && deletes.push(e.resourcePreEvent.metadata.urn),
            }),
            (error: Error) =>
                error.message.includes('"urn:pulumi:rendertest::physioflow::physioflow:index:StackGuard::physioflow-stack-guard" cannot be deleted'),
        );
        // Beside the guard's, only a provider's (the StackReference's default provider: a delete that touches nothing).
        assert.deepStrictEqual(
            deletes.filter(urn => !urn.includes("::pulumi:providers:")),
            ["urn:pulumi:rendertest::physioflow::physioflow:index:StackGuard::physioflow-stack-guard"],
        );
        assert.deepStrictEqual(objects(await s.stateResources()), objects(stateBefore));
        assert.deepStrictEqual(directorySnapshot(s.renderDir), renderedBefore);
        // The outputs the release commands and the next update read are the last good update's.
        assert.deepStrictEqual(await lastOutputs(s.stack), outputsBefore);
        // The stack's own program then updates as before.
        await s.up();
        assert.deepStrictEqual(objects(await s.stateResources()), objects(stateBefore));
    });

    it("lastOutputs (one CLI run) reads the outputs stack.outputs() reads (two runs); a stack it cannot read is one line", async () => {
        const outputs = await s.stack.outputs();
        assert.deepStrictEqual(await lastOutputs(s.stack), Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value])));
        assert.strictEqual((await lastOutputs(s.stack)).activeColor, "blue");
        const gone = Object.create(s.stack) as typeof s.stack;
        Object.defineProperty(gone, "name", { value: "nosuchstack" });
        await assert.rejects(lastOutputs(gone), (error: Error) => /^pulumi stack output: .*nosuchstack/.test(error.message) && !error.message.includes("\n"));
    });

    it("the state keeps no metadata file a killed pulumi could tear; a torn one (which fails every command) is removed when the stack is opened or its lock taken over", async () => {
        const pulumiDir = path.join(s.dirs.stateDir, ".pulumi");
        const files = (dir: string): string[] =>
            fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
        assert.deepStrictEqual(
            files(pulumiDir).filter(file => file.endsWith(".attrs")),
            [],
            "after two updates: no .attrs file (the backend URL says metadata=skip)",
        );
        // What a pulumi killed between truncating the checkpoint's metadata file and writing it leaves.
        const torn = path.join(pulumiDir, "stacks", "physioflow", "rendertest.json.attrs");
        fs.writeFileSync(torn, "");
        await assert.rejects(s.stack.getAllConfig(), /failed to load checkpoint: EOF/);

        const lines: string[] = [];
        const reopened = await openClusterStack({ engine: await testEngine(), ...s.dirs, out: line => lines.push(line) });
        assert.deepStrictEqual(lines, [
            `state: removed .pulumi/stacks/physioflow/rendertest.json.attrs in ${s.dirs.stateDir}: an empty metadata file a killed pulumi left`,
        ]);
        assert.strictEqual((await reopened.getAllConfig())["physioflow:greenTag"].value, "v1.2.0");

        // The lock takeover's repair (release/operation.ts takeReleaseLock), on the stack already open.
        fs.writeFileSync(torn, "");
        lines.length = 0;
        await repairFileBackend(s.stack.workspace, line => lines.push(line));
        assert.match(
            lines.join("\n"),
            /^state: removed \.pulumi\/stacks\/physioflow\/rendertest\.json\.attrs in .*: an empty metadata file a killed pulumi left/,
        );
        assert.strictEqual((await s.stack.getAllConfig())["physioflow:greenTag"].value, "v1.2.0");
        assert.ok(!fs.existsSync(torn));

        // A named stack (dev, staging, prod) on the user's own file backend, as the release commands select it.
        fs.writeFileSync(torn, "");
        lines.length = 0;
        const engine = await testEngine();
        const named = await selectRepairedStack(
            "rendertest",
            {
                workDir: s.dirs.workDir,
                pulumiHome: s.dirs.pulumiHome,
                pulumiCommand: engine.command,
                envVars: { ...engine.env, PULUMI_BACKEND_URL: `file://${s.dirs.stateDir}`, PULUMI_CONFIG_PASSPHRASE: s.dirs.passphrase },
            },
            line => lines.push(line),
        );
        assert.strictEqual(lines.length, 1, lines.join("\n"));
        assert.strictEqual(named.workspace.envVars.PULUMI_BACKEND_URL, `file://${s.dirs.stateDir}?metadata=skip`, "its own commands write no metadata files");
        assert.strictEqual((await named.getAllConfig())["physioflow:greenTag"].value, "v1.2.0");
    });
});
