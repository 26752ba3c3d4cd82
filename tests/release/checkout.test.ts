/**
 * release/checkout.ts's pure comparison of a checkout's stack file with the stack's last outputs,
 * the release record's pending config and the live Services (the real thing on the engine:
 * tests/engine/staleCheckout.test.ts), and sync's choice of what to write.
 */
import * as assert from "assert";
import { checkoutValues, compareCheckout, describeDisagreement, expectedCheckout, outputValues, ReleaseValues, StackTruth } from "../../release/checkout";
import { syncChanges } from "../../release/sync";

const blueV1: ReleaseValues = { activeColor: "blue", blueTag: "v1.0.0", greenTag: "v1.0.0", inactiveWarm: "false" };
const greenV11: ReleaseValues = { activeColor: "green", blueTag: "v1.0.0", greenTag: "v1.1.0", inactiveWarm: "false" };
const live = (api: string, web = api) => ({ "physioflow-api": api, "physioflow-web": web });
const where = { file: "Pulumi.prod.yaml", stack: "prod" };
const line = (file: ReleaseValues, truth: StackTruth) => {
    const verdict = compareCheckout(file, truth);
    if (verdict.agrees) throw new assert.AssertionError({ message: "the checkout agreed" });
    return describeDisagreement(file, truth, verdict.expected, where);
};

describe("a checkout's stack file against the stack and its cluster", () => {
    it("reads the outputs' release values; none before a first update or from outputs without a color and tags", () => {
        assert.deepStrictEqual(
            outputValues({ activeColor: "green", tags: { blue: "v1.0.0", green: "v1.1.0" }, inactiveWarm: false, replicas: { api: {} } }),
            greenV11,
        );
        assert.deepStrictEqual(outputValues({ activeColor: "green", tags: { blue: "a", green: "b" }, migrationTarget: "006" })?.migrationTarget, "006");
        assert.strictEqual(outputValues({}), undefined);
        assert.strictEqual(outputValues({ activeColor: "purple", tags: { blue: "a", green: "b" } }), undefined);
        assert.strictEqual(outputValues({ activeColor: "blue", tags: { blue: "a" } }), undefined);
        assert.deepStrictEqual(checkoutValues({ activeColor: "blue", tags: { blue: "v1.0.0", green: "v1.0.0" }, inactiveWarm: false }), blueV1);
    });

    it("agrees when the file says what the last update did and the live Services select its color; nothing to compare before a first update", () => {
        assert.deepStrictEqual(compareCheckout(greenV11, { outputs: greenV11, live: live("green") }), { agrees: true, resumes: false });
        assert.deepStrictEqual(compareCheckout(blueV1, { live: {} }), { agrees: true, resumes: false });
        assert.deepStrictEqual(compareCheckout(greenV11, { outputs: greenV11, live: {} }), { agrees: true, resumes: false });
        // migrationTarget is compared only when the outputs hold it.
        assert.deepStrictEqual(compareCheckout({ ...greenV11, migrationTarget: "006" }, { outputs: greenV11, live: live("green") }).agrees, true);
        assert.deepStrictEqual(
            compareCheckout({ ...greenV11, migrationTarget: "005" }, { outputs: { ...greenV11, migrationTarget: "006" }, live: live("green") }).agrees,
            false,
        );
    });

    it("refuses a file older than the last release in one line naming both and the fix", () => {
        assert.strictEqual(
            line(blueV1, { outputs: greenV11, live: live("green") }),
            "Pulumi.prod.yaml is out of date: it says blue live with v1.0.0, the stack's last update and the cluster have green live with v1.1.0; run physioflow sync prod (or pull the latest checkout)",
        );
        // Same live release: what else differs is named.
        assert.strictEqual(
            line({ ...greenV11, blueTag: "v0.9.0", inactiveWarm: "true" }, { outputs: greenV11, live: {} }),
            "Pulumi.prod.yaml is out of date: it says green live with v1.1.0 and blue at v0.9.0 and blue warm, the stack's last update has green live with v1.1.0 and blue at v1.0.0 and blue not warm; run physioflow sync prod (or pull the latest checkout)",
        );
    });

    it("a file ahead by exactly the pending config (an update cut short) resumes; one that is not is refused", () => {
        const released = { ...blueV1, greenTag: "v1.1.0", inactiveWarm: "true" };
        const cutShort: StackTruth = { outputs: blueV1, pending: { greenTag: "v1.1.0", inactiveWarm: "true" }, live: live("blue") };
        assert.deepStrictEqual(compareCheckout(released, cutShort), { agrees: true, resumes: true });
        // Another checkout that never saw the change: the last update's values are still true.
        assert.deepStrictEqual(compareCheckout(blueV1, cutShort), { agrees: true, resumes: false });
        assert.strictEqual(compareCheckout({ ...released, greenTag: "v1.2.0" }, cutShort).agrees, false);

        // A switch cut short: the Services half moved.
        const switching: StackTruth = { outputs: released, pending: { activeColor: "green" }, live: live("green", "blue") };
        assert.deepStrictEqual(compareCheckout({ ...released, activeColor: "green" }, switching), { agrees: true, resumes: true });
        // A checkout without the switch, while a Service already serves green: refused (its release step would change green's tag).
        assert.strictEqual(compareCheckout(released, switching).agrees, false);
        assert.strictEqual(
            line(released, { ...switching, live: live("green") }),
            "Pulumi.prod.yaml is out of date: it says blue live with v1.0.0, the stack (its last update and a change still being applied: activeColor green) and the cluster have green live with v1.1.0; run physioflow sync prod (or pull the latest checkout)",
        );
    });

    it("an emergency rollback recorded before its patch: the file it writes is accepted until its reconcile; a stale one is refused", () => {
        const warm = { ...greenV11, inactiveWarm: "true" };
        const patched: StackTruth = { outputs: warm, pending: { activeColor: "blue", inactiveWarm: "true" }, live: live("blue") };
        assert.deepStrictEqual(compareCheckout({ ...warm, activeColor: "blue" }, patched), { agrees: true, resumes: true });
        // The emergency's own checkout before its reconcile wrote the file: the patch is not explained by it.
        assert.strictEqual(compareCheckout(warm, patched).agrees, false);
        // A stale emergency (blue live in the file, green in the stack and the cluster) would patch to the color already live.
        assert.strictEqual(compareCheckout({ ...blueV1, greenTag: "v1.1.0" }, { outputs: warm, live: live("green") }).agrees, false);
    });

    it("live Services moved outside the stack (kubectl patch) are the truth: sync takes their color and records it as pending", () => {
        const truth: StackTruth = { outputs: greenV11, live: live("blue") };
        assert.deepStrictEqual(expectedCheckout(truth), {
            values: { ...greenV11, activeColor: "blue" },
            source: "cluster",
            recordPending: { activeColor: "blue" },
        });
        assert.strictEqual(
            line(greenV11, truth),
            "Pulumi.prod.yaml is out of date: it says green live with v1.1.0, the cluster has blue live with v1.0.0 (the stack's last update: green live with v1.1.0); run physioflow sync prod (or pull the latest checkout)",
        );
        // Once synced (file and record), the next command goes ahead.
        assert.deepStrictEqual(compareCheckout({ ...greenV11, activeColor: "blue" }, { ...truth, pending: { activeColor: "blue" } }), {
            agrees: true,
            resumes: true,
        });
        // Services on different colors that nothing explains: no color to take.
        const mixed: StackTruth = { outputs: blueV1, live: live("green", "blue") };
        assert.strictEqual(expectedCheckout(mixed)?.source, "mixed");
        assert.strictEqual(
            line(blueV1, mixed),
            "the live Services select different colors (physioflow-api green, physioflow-web blue) and neither the stack's last update nor a change in progress explains it; patch them to one color (kubectl patch service), then run physioflow sync prod",
        );
    });

    it("sync writes each key whose value differs, an unset key included (inactiveWarm unset is false)", () => {
        assert.deepStrictEqual(syncChanges({ activeColor: "blue", blueTag: "v1.0.0", greenTag: "v1.0.0" }, greenV11), [
            { key: "activeColor", from: "blue", to: "green" },
            { key: "greenTag", from: "v1.0.0", to: "v1.1.0" },
        ]);
        assert.deepStrictEqual(syncChanges({ activeColor: "blue", blueTag: "v1.0.0" }, { ...greenV11, inactiveWarm: "true" }), [
            { key: "activeColor", from: "blue", to: "green" },
            { key: "greenTag", to: "v1.1.0" },
            { key: "inactiveWarm", to: "true" },
        ]);
        assert.deepStrictEqual(syncChanges(greenV11, greenV11), []);
    });
});
