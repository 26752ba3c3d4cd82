/**
 * The deploy lock's holder learns that it lost the lock (release/deployLock.ts `check`), on a real
 * control plane: its Lease replaced by another holder (renewal does not take it back), or its
 * renewals failing for half the Lease's duration.
 */
import * as assert from "assert";
import { Cluster } from "../../devenv/cluster";
import { acquireDeployLock, DeployLockLostError, deployLockName } from "../../release/deployLock";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

describe("the deploy lock on a real control plane: a lost Lease is noticed", function () {
    this.timeout(2 * 60 * 1000);
    const namespace = suiteNamespace("deploy-lock");
    let cluster: Cluster;
    before(async function () {
        this.timeout(60 * 60 * 1000);
        cluster = await sharedCluster();
        await cluster.kubectl(["create", "namespace", namespace]);
    });
    after(() => removeSuiteNamespace(cluster, namespace));
    const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
    const holderNow = async () => (await cluster.getJson(["lease", deployLockName, "-n", namespace])).spec.holderIdentity as string;

    it("replaced by another holder: renewal leaves it theirs, and check() throws saying who holds it", async () => {
        const lock = await acquireDeployLock(cluster.kubectl, namespace, { purpose: "deploy v1", renewEveryMs: 100 });
        try {
            await lock.check();
            // Another deploy takes it over (as acquireDeployLock does with a stale Lease).
            await cluster.kubectl([
                "patch",
                "lease",
                deployLockName,
                "-n",
                namespace,
                "--type",
                "merge",
                "-p",
                JSON.stringify({ spec: { holderIdentity: "ops@laptop pid 4242: deploy v2" } }),
            ]);
            await sleep(600); // several renewals
            assert.strictEqual(await holderNow(), "ops@laptop pid 4242: deploy v2");
            await assert.rejects(
                lock.check(),
                (error: Error) =>
                    error instanceof DeployLockLostError &&
                    error.message === `the deploy lock of ${namespace} was lost (Lease ${deployLockName} is held by ops@laptop pid 4242: deploy v2)`,
            );
        } finally {
            await lock.release();
        }
        assert.strictEqual(await holderNow(), "ops@laptop pid 4242: deploy v2", "release() deleted another holder's Lease");
        await cluster.kubectl(["delete", "lease", deployLockName, "-n", namespace]);
    });

    it("renewals that fail for half the Lease's duration: check() throws although the Lease still names this holder", async () => {
        let failRenewals = false;
        // When the last renewal that went through was sent: "half the duration" counts from there
        // (a slow renewal sent before the failures began may answer after they did).
        let lastRenewalSent = 0;
        const kubectl: Cluster["kubectl"] = (args, input) => {
            if (args[0] !== "patch") return cluster.kubectl(args, input);
            if (failRenewals) return Promise.reject(new Error("kubectl patch: Unable to connect to the server: dial tcp: i/o timeout"));
            const sent = Date.now();
            return cluster.kubectl(args, input).then(out => {
                lastRenewalSent = Math.max(lastRenewalSent, sent);
                return out;
            });
        };
        const lock = await acquireDeployLock(kubectl, namespace, { purpose: "deploy v1", durationSeconds: 2, renewEveryMs: 100 });
        try {
            await sleep(300);
            await lock.check();
            failRenewals = true;
            // Lost once no renewal went through for 1 s; kubectl is slow on a busy machine, so allow 20 s.
            const failed = Date.now();
            let lost: Error | undefined;
            while (!lost && Date.now() - failed < 20_000) {
                await sleep(200);
                lost = await lock.check().then(
                    () => undefined,
                    (error: Error) => error,
                );
            }
            assert.ok(lastRenewalSent > 0, "no renewal went through before the failures");
            assert.ok(
                Date.now() - lastRenewalSent >= 1000,
                `lost ${Date.now() - lastRenewalSent} ms after the last renewal that went through was sent: before half the Lease's duration`,
            );
            await assert.rejects(
                Promise.reject(lost ?? new Error("check() never threw")),
                (error: Error) =>
                    error instanceof DeployLockLostError &&
                    new RegExp(
                        `^the deploy lock of ${namespace} was lost \\(not renewed for \\d s: kubectl patch: Unable to connect to the server: dial tcp: i/o timeout\\)$`,
                    ).test(error.message),
            );
        } finally {
            await lock.release();
        }
    });
});
