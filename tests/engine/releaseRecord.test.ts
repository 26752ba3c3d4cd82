import * as assert from "assert";
import { Cluster } from "../../devenv/cluster";
import { readReleaseRecord, releaseRecordName, updateReleaseRecord } from "../../release/releaseRecord";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

describe("the release record: one ConfigMap every command and checkout shares, on a real control plane", function () {
    this.timeout(10 * 60 * 1000);
    const namespace = suiteNamespace("release-record");
    let cluster: Cluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        await cluster.kubectl(["create", "namespace", namespace]);
    });
    after(() => removeSuiteNamespace(cluster, namespace));

    it("is empty when there is none, and two writers at once both land (a lost race re-reads and re-applies)", async () => {
        assert.deepStrictEqual(await readReleaseRecord(cluster.kubectl, namespace), {});
        await Promise.all([
            updateReleaseRecord(cluster.kubectl, namespace, r => ({ ...r, aborted: { by: "a", at: "t", reason: "emergency" } })),
            updateReleaseRecord(cluster.kubectl, namespace, r => ({ ...r, alarms: [...(r.alarms ?? []), { kind: "k", at: "t", text: "x" }] })),
            updateReleaseRecord(cluster.kubectl, namespace, r => ({ ...r, pendingConfig: { activeColor: "green" } })),
        ]);
        const record = await readReleaseRecord(cluster.kubectl, namespace);
        assert.deepStrictEqual(record.aborted?.reason, "emergency");
        assert.deepStrictEqual(
            record.alarms?.map(a => a.kind),
            ["k"],
        );
        assert.deepStrictEqual(record.pendingConfig, { activeColor: "green" });
    });

    it("a record that is not JSON is an error naming the ConfigMap, not an empty record", async () => {
        await cluster.kubectl(["delete", "configmap", releaseRecordName, "-n", namespace]);
        await cluster.kubectl(["create", "configmap", releaseRecordName, "-n", namespace, "--from-literal=record={oops"]);
        await assert.rejects(readReleaseRecord(cluster.kubectl, namespace), /physioflow-release in physioflow-release-record holds no valid JSON/);
    });
});
