/**
 * `physioflow import` (release/importExisting.ts) on the real engine and a real control plane: a
 * stack's first up over a namespace the team made by hand (the runbook's `kubectl create
 * namespace`), with their old `physioflow-secrets` in it. The database and role imports take the
 * same path with the postgresql plugin, which cannot be built here (docs/engine.md); their
 * resource options are asserted in tests/program/importExisting.test.ts.
 */
import * as assert from "assert";
import { importExisting } from "../../release/importExisting";
import { changedSteps, describeSteps } from "../../release/engineEvents";
import { Cluster } from "../../devenv/cluster";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

const namespace = suiteNamespace("importtest");

describe("physioflow import: a first up over the team's existing namespace", function () {
    let cluster: Cluster;
    let s: TestClusterStack;
    const namespaceObject = () => cluster.getJson(["namespace", namespace]);
    const setting = async () => (await s.stack.getAllConfig())["physioflow:importExisting"];
    const target = () => ({ stack: s.stack, kubectl: cluster.kubectl, namespace });

    before(async function () {
        this.timeout(60 * 60 * 1000); // engine.sh and cluster.sh build what is missing first
        cluster = await sharedCluster();
        s = await createTestClusterStack("importtest", { kubeconfig: cluster.kubeconfigPath, namespace });
        await cluster.kubectl(["create", "namespace", namespace]);
        await cluster.kubectl(["create", "secret", "generic", "physioflow-secrets", "-n", namespace, "--from-literal=POSTGRES_PASSWORD=team-password"]);
    });
    after(async () => {
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
    });

    it("a declined confirmation changes nothing and leaves no importExisting setting behind", async () => {
        const lines: string[] = [];
        const result = await importExisting(target(), { out: line => lines.push(line), confirm: async () => false });
        assert.deepStrictEqual(result, {
            ok: false,
            imported: [],
            created: [],
            leftAlone: ["Secret/physioflow-secrets"],
            pending: [],
            restarts: [],
            error: "not confirmed; nothing changed",
        });
        assert.ok(lines.includes(`  Namespace/${namespace} import`), lines.join("\n"));
        assert.strictEqual(await setting(), undefined);
        assert.deepStrictEqual(await s.stateResources(), []);
        assert.deepStrictEqual((await cluster.getJson(["deployments", "-n", namespace])).items, []);
    });

    it("adopts the namespace itself (same object, nothing recreated), creates the rest, and one more up sets its labels", async () => {
        const before = await namespaceObject();
        const lines: string[] = [];
        const result = await importExisting(target(), { out: line => lines.push(line), confirm: async () => true });
        assert.strictEqual(result.error, undefined);
        assert.deepStrictEqual(result.imported, [`Namespace/${namespace}`]);
        // What the team's namespace lacks is the next update's, shown by the preview the command ends with.
        assert.deepStrictEqual(result.pending, [
            `Namespace/${namespace} update [metadata.labels.environment, metadata.labels["app.kubernetes.io/part-of"], metadata.labels["kubernetes.io/metadata.name"]]`,
        ]);
        assert.strictEqual(await setting(), undefined, "the import setting stayed in the stack");
        const adopted = await namespaceObject();
        assert.strictEqual(adopted.metadata.uid, before.metadata.uid);
        const namespaceState = (await s.stateResources()).find(r => r.type === "kubernetes:core/v1:Namespace");
        assert.strictEqual(namespaceState?.retainOnDelete, true);
        // The rest was created, and the team's old Secret left alone (the apps no longer read it).
        assert.strictEqual((await cluster.getJson(["deployments", "-n", namespace])).items.length, 4);
        const teamSecret = await cluster.getJson(["secret", "physioflow-secrets", "-n", namespace]);
        assert.strictEqual(Buffer.from(teamSecret.data.POSTGRES_PASSWORD, "base64").toString(), "team-password");

        await s.up();
        assert.deepStrictEqual(describeSteps(changedSteps((await s.preview()).steps)), []);
        const labelled = await namespaceObject();
        assert.strictEqual(labelled.metadata.uid, before.metadata.uid);
        assert.deepStrictEqual(
            { partOf: labelled.metadata.labels["app.kubernetes.io/part-of"], environment: labelled.metadata.labels.environment },
            { partOf: "physioflow", environment: "local" },
        );
    });

    it("is refused once the stack has resources, before it touches the stack's settings", async () => {
        const stateBefore = await s.stateResources();
        const result = await importExisting(target(), { out: () => undefined });
        assert.strictEqual(result.ok, false);
        assert.match(result.error!, /^importtest already has \d+ resources in its state; import is for a stack's first up/);
        assert.strictEqual(await setting(), undefined);
        assert.deepStrictEqual(await s.stateResources(), stateBefore);
    });
});
