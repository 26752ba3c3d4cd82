/**
 * `physioflow import` (release/importExisting.ts) over the team's running app as the runbook makes it:
 * `kubectl apply` of tests/support/runbookApp.yaml (the Deployments physioflow-api-blue/-green and
 * physioflow-web-*, the Services physioflow-api and physioflow-web, the Secret physioflow-secrets,
 * the ConfigMap migration-version), then the import on the real engine and a real control plane,
 * kwok running the pods. What must hold: each object the stack names is adopted (in the state, the
 * same object: same uid), the import's update restarts no pod (same pods, same ReplicaSets, same
 * Deployment generation and pod template), the old Secret is left alone, and the last preview says
 * which Deployments the next `up` rolls; then that `up` takes them over in place.
 *
 * Dropped requests through the takeover are not measured here: kwok's pods serve nothing. With the
 * real node (branch real-node), the load generator would run against Service/physioflow-api from
 * the `before` (after the apply, once the team's pods serve) through the import and the next `up`,
 * and the tests would assert zero failed requests for the import and report them for the takeover.
 */
import * as assert from "assert";
import * as path from "path";
import { Cluster } from "../../devenv/cluster";
import { changedSteps, describeSteps } from "../../release/engineEvents";
import { importExisting, ImportResult } from "../../release/importExisting";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { serviceServes, waitForClusterState } from "../support/clusterWait";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

const manifests = path.join(__dirname, "..", "support", "runbookApp.yaml");
const teamDeployments = ["physioflow-api-blue", "physioflow-api-green", "physioflow-web-blue", "physioflow-web-green"];

/** What must not change when an object is adopted: its identity, and for a Deployment its pods. */
interface Snapshot {
    /** `Kind/name` -> uid. */
    uids: Record<string, string>;
    /** Deployment -> its generation and pod template. */
    deployments: Record<string, { generation: number; template: unknown }>;
    /** The uids of the namespace's pods and ReplicaSets, sorted. */
    pods: string[];
    replicaSets: string[];
}

async function snapshot(cluster: Cluster, namespace: string): Promise<Snapshot> {
    const { items } = await cluster.getJson(["deployments,services,configmaps,secrets,pods,replicasets", "-n", namespace]);
    const result: Snapshot = { uids: {}, deployments: {}, pods: [], replicaSets: [] };
    for (const item of items) {
        if (item.kind === "Pod") result.pods.push(item.metadata.uid);
        else if (item.kind === "ReplicaSet") result.replicaSets.push(item.metadata.uid);
        else result.uids[`${item.kind}/${item.metadata.name}`] = item.metadata.uid;
        if (item.kind === "Deployment") result.deployments[item.metadata.name] = { generation: item.metadata.generation, template: item.spec.template };
    }
    result.pods.sort();
    result.replicaSets.sort();
    return result;
}

/** Applies the runbook's manifests to a new namespace and waits until the team's live color serves. */
async function applyRunbookApp(cluster: Cluster, namespace: string): Promise<void> {
    await cluster.kubectl(["create", "namespace", namespace]);
    await cluster.kubectl(["apply", "-n", namespace, "-f", manifests]);
    await waitForClusterState(
        cluster.kubectl,
        namespace,
        state => serviceServes(state, "physioflow-api", "blue", 1) && serviceServes(state, "physioflow-web", "blue", 1),
        {
            what: "the team's blue pods behind physioflow-api and physioflow-web",
            timeoutMs: 120_000,
        },
    );
}

describe("physioflow import over the runbook's app (made by kubectl apply)", function () {
    const namespace = suiteNamespace("importrunbook");
    let cluster: Cluster;
    let s: TestClusterStack;
    let initial: Snapshot;
    let result: ImportResult;
    const lines: string[] = [];

    before(async function () {
        this.timeout(60 * 60 * 1000); // engine.sh and cluster.sh build what is missing first
        cluster = await sharedCluster();
        s = await createTestClusterStack("importrunbook", { kubeconfig: cluster.kubeconfigPath, namespace });
        await applyRunbookApp(cluster, namespace);
        initial = await snapshot(cluster, namespace);
    });
    after(async () => {
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
    });

    it("adopts the Deployments, Services and migration-version as they are: same objects, no pod restarted, the old Secret left alone", async () => {
        result = await importExisting({ stack: s.stack, kubectl: cluster.kubectl, namespace }, { out: line => lines.push(line), confirm: async () => true });
        assert.strictEqual(result.error, undefined, lines.join("\n"));
        assert.deepStrictEqual(result.imported, [
            "ConfigMap/migration-version",
            ...teamDeployments.map(name => `Deployment/${name}`),
            `Namespace/${namespace}`,
            "Service/physioflow-api",
            "Service/physioflow-web",
        ]);
        // In the state, by their ids: the stack now manages the team's objects themselves.
        const ids = (await s.stateResources()).filter(r => r.type.startsWith("kubernetes:") && r.id).map(r => r.id);
        for (const object of ["physioflow-api", "physioflow-web", "migration-version", ...teamDeployments]) {
            assert.ok(ids.includes(`${namespace}/${object}`), `${object} is not in the state: ${ids.join(", ")}`);
        }
        const after = await snapshot(cluster, namespace);
        for (const [object, uid] of Object.entries(initial.uids)) assert.strictEqual(after.uids[object], uid, `${object} was re-created`);
        // No pod restarted: the same pods and ReplicaSets, and no Deployment's spec was written.
        assert.deepStrictEqual(after.pods, initial.pods);
        assert.deepStrictEqual(after.replicaSets, initial.replicaSets);
        assert.deepStrictEqual(after.deployments, initial.deployments);
        // What the stack names and the team lacks is created; the team's Secret is left alone, and said so.
        assert.deepStrictEqual(result.created, [
            "Service/physioflow-api-preview",
            "Service/physioflow-api-blue",
            "Service/physioflow-api-green",
            "Service/physioflow-web-preview",
            "Service/physioflow-web-blue",
            "Service/physioflow-web-green",
        ]);
        assert.deepStrictEqual(result.leftAlone, ["Secret/physioflow-secrets"]);
        assert.ok(lines.includes("import: left alone (the stack does not declare them; nothing deletes them): Secret/physioflow-secrets"), lines.join("\n"));
        assert.strictEqual(after.uids["Secret/physioflow-secrets"], initial.uids["Secret/physioflow-secrets"]);
        const settings = await s.stack.getAllConfig();
        assert.deepStrictEqual([settings["physioflow:importExisting"], settings["physioflow:importObjects"]], [undefined, undefined]);
    });

    it("ends with what the next up changes: every Deployment's pod template (named), the Services in place, no replacement", async () => {
        assert.deepStrictEqual(
            result.restarts,
            teamDeployments.map(name => `Deployment/${name}`),
        );
        const said = lines.find(line => line.startsWith("import: the next pulumi up replaces the pods of "));
        assert.strictEqual(
            said,
            `import: the next pulumi up replaces the pods of ${teamDeployments.map(name => `Deployment/${name}`).join(", ")} (their pod template changes); run it when a restart suits you`,
        );
        const pendingOf = (object: string) => result.pending.filter(line => line.startsWith(`${object} `));
        for (const name of teamDeployments) assert.match(pendingOf(`Deployment/${name}`)[0] ?? "", / update \[.*spec\.template/);
        // The live Services are updated in place (their selector already says blue): nothing deleted, traffic does not move.
        for (const service of ["physioflow-api", "physioflow-web"]) assert.match(pendingOf(`Service/${service}`)[0] ?? "", / update /);
        assert.deepStrictEqual(
            result.pending.filter(line => / (replace|delete)/.test(line) && !line.startsWith("ConfigMap/migration-version")),
            [],
        );
        assert.ok(!lines.some(line => line.includes("traffic moves")), lines.join("\n"));
    });

    it("is refused when run again, and changes nothing", async () => {
        const state = await s.stateResources();
        const again = await importExisting({ stack: s.stack, kubectl: cluster.kubectl, namespace }, { out: () => undefined });
        assert.strictEqual(again.ok, false);
        assert.match(again.error!, /^importrunbook already has \d+ resources in its state; import is for a stack's first up/);
        assert.deepStrictEqual(await s.stateResources(), state);
        assert.strictEqual((await s.stack.getAllConfig())["physioflow:importExisting"], undefined);
    });

    it("the next pulumi up takes the team's objects over in place: the same Services and Deployments, now with the stack's pod template", async () => {
        await s.up();
        const after = await snapshot(cluster, namespace);
        for (const object of ["Service/physioflow-api", "Service/physioflow-web", ...teamDeployments.map(name => `Deployment/${name}`)]) {
            assert.strictEqual(after.uids[object], initial.uids[object], `${object} was re-created`);
        }
        const api = await cluster.getJson(["deployment", "physioflow-api-blue", "-n", namespace]);
        // The team's container (named `api`) is gone, not left beside the stack's: kubectl's fields are the stack's now.
        assert.deepStrictEqual(
            api.spec.template.spec.containers.map((c: { name: string; image: string }) => `${c.name} ${c.image}`),
            ["physioflow-api registry.local:5000/physioflow-api:v1.0.0"],
        );
        const live = await cluster.getJson(["service", "physioflow-api", "-n", namespace]);
        assert.deepStrictEqual(live.spec.selector, { app: "physioflow-api", version: "blue" });
        assert.deepStrictEqual(describeSteps(changedSteps((await s.preview()).steps)), []);
    });
});

describe("physioflow import when one of the runbook's objects is missing", function () {
    const namespace = suiteNamespace("importpartial");
    let cluster: Cluster;
    let s: TestClusterStack;

    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        s = await createTestClusterStack("importpartial", { kubeconfig: cluster.kubeconfigPath, namespace });
        await applyRunbookApp(cluster, namespace);
        await cluster.kubectl(["delete", "deployment", "physioflow-web-green", "-n", namespace]);
    });
    after(async () => {
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
    });

    it("is refused when a live Service selects another color than the stack's activeColor, before anything changes", async () => {
        await s.set({ activeColor: "green" });
        const refused = await importExisting({ stack: s.stack, kubectl: cluster.kubectl, namespace }, { out: () => undefined });
        assert.strictEqual(
            refused.error,
            "Service/physioflow-api selects blue but the stack's activeColor is green: the next up would move traffic; " +
                "set activeColor to what is live (pulumi config set physioflow:activeColor blue) and import again",
        );
        assert.deepStrictEqual(await s.stateResources(), []);
        assert.strictEqual((await s.stack.getAllConfig())["physioflow:importExisting"], undefined);
        await s.set({ activeColor: "blue" });
    });

    it("adopts the rest, creates the missing Deployment, and says so", async () => {
        const initial = await snapshot(cluster, namespace);
        const lines: string[] = [];
        const result = await importExisting(
            { stack: s.stack, kubectl: cluster.kubectl, namespace },
            { out: line => lines.push(line), confirm: async () => true },
        );
        assert.strictEqual(result.error, undefined, lines.join("\n"));
        assert.ok(result.created.includes("Deployment/physioflow-web-green"), result.created.join(", "));
        assert.ok(!result.imported.includes("Deployment/physioflow-web-green"));
        assert.ok(result.imported.includes("Deployment/physioflow-web-blue") && result.imported.includes("Service/physioflow-web"), result.imported.join(", "));
        assert.ok(
            lines.some(line => line.startsWith("import: not found, created: ") && line.includes("Deployment/physioflow-web-green")),
            lines.join("\n"),
        );
        const after = await snapshot(cluster, namespace);
        assert.ok(after.uids["Deployment/physioflow-web-green"], "physioflow-web-green was not created");
        for (const [object, uid] of Object.entries(initial.uids)) assert.strictEqual(after.uids[object], uid, `${object} was re-created`);
        assert.deepStrictEqual(after.pods, initial.pods);
    });
});
