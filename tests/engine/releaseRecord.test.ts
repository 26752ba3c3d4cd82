import * as assert from "assert";
import { Cluster } from "../../devenv/cluster";
import { readReleaseRecord, ReleaseRecord, releaseRecordName, updateReleaseRecord } from "../../release/releaseRecord";
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

    it("a process writes over the version it last wrote without reading again; another writer in between makes it read and re-apply, keeping both changes", async () => {
        // Two processes: each kubectl function keeps its own last-known version.
        const runs: string[] = [];
        const ours = (args: readonly string[], input?: string) => {
            runs.push(args[0]);
            return cluster.kubectl(args, input);
        };
        const theirs = (args: readonly string[], input?: string) => cluster.kubectl(args, input);
        await updateReleaseRecord(ours, namespace, r => ({ ...r, pendingConfig: { activeColor: "blue" } }));
        runs.length = 0;
        await updateReleaseRecord(ours, namespace, r => ({ ...r, pendingConfig: { ...r.pendingConfig, blueTag: "v2" } }));
        await updateReleaseRecord(ours, namespace, r => ({
            ...r,
            release: { tag: "v2", from: "green", to: "blue", by: "us", startedAt: "t", phase: "release" },
        }));
        assert.deepStrictEqual(runs, ["replace", "replace"], "one kubectl run per change");
        // Another process aborts the release in between: our next write is refused, re-read, re-applied.
        await updateReleaseRecord(theirs, namespace, r => ({ ...r, aborted: { by: "them", at: "t", reason: "emergency rollback" } }));
        runs.length = 0;
        let seen: ReleaseRecord | undefined;
        await updateReleaseRecord(ours, namespace, r => {
            seen = r;
            return { ...r, release: { ...r.release!, phase: "switch" } };
        });
        assert.deepStrictEqual(runs, ["replace", "get", "replace"]);
        assert.strictEqual(seen?.aborted?.by, "them", "the change saw the other writer's");
        const record = await readReleaseRecord(cluster.kubectl, namespace);
        assert.deepStrictEqual(
            { pending: record.pendingConfig, phase: record.release?.phase, aborted: record.aborted?.by },
            { pending: { activeColor: "blue", blueTag: "v2" }, phase: "switch", aborted: "them" },
        );
        // The record deleted meanwhile (a namespace emptied by hand): the write over the gone version creates it anew.
        await cluster.kubectl(["delete", "configmap", releaseRecordName, "-n", namespace]);
        runs.length = 0;
        await updateReleaseRecord(ours, namespace, r => ({ ...r, pendingConfig: { activeColor: "green" } }));
        assert.deepStrictEqual(runs, ["replace", "get", "create"]);
        assert.deepStrictEqual(await readReleaseRecord(cluster.kubectl, namespace), { pendingConfig: { activeColor: "green" } });
    });

    it("a record that is not JSON is an error naming the ConfigMap, not an empty record", async () => {
        await cluster.kubectl(["delete", "configmap", releaseRecordName, "-n", namespace]);
        await cluster.kubectl(["create", "configmap", releaseRecordName, "-n", namespace, "--from-literal=record={oops"]);
        await assert.rejects(readReleaseRecord(cluster.kubectl, namespace), /physioflow-release in physioflow-release-record holds no valid JSON/);
    });
});
