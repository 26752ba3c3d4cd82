/**
 * The typed step outcomes every release command records (release/outcome.ts): the line each
 * outcome prints, and `runStep`, which rollback and `rollback --restore` run their steps through.
 * Its failed steps read the live color back with a real kubectl; here against an API server that
 * is not there (a closed loopback port), so the color is `unknown`, with kubectl's reason.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { kubectlCommand } from "../../devenv/kubectl";
import type { LiveColor } from "../../release/clusterState";
import { describeOutcome, recordStep, runStep } from "../../release/outcome";
import type { StepResult } from "../../release/types";

describe("step outcomes, typed", () => {
    it("each outcome as its one line in a summary", () => {
        assert.strictEqual(describeOutcome({ kind: "done" }), "done");
        assert.strictEqual(describeOutcome({ kind: "done", detail: "stack matches the cluster" }), "stack matches the cluster");
        assert.strictEqual(describeOutcome({ kind: "breach", reason: "physioflow-api-green 0/1 ready" }), "breach: physioflow-api-green 0/1 ready");
        assert.strictEqual(describeOutcome({ kind: "aborted", reason: "aborted by x: y" }), "aborted: aborted by x: y");
        assert.strictEqual(
            describeOutcome({ kind: "failed", error: "denied", live: { color: "mixed", selectors: { "physioflow-api": "green", "physioflow-web": "blue" } } }),
            "failed: denied; live color mixed (physioflow-api selects green, physioflow-web selects blue)",
        );
    });

    it("a recorded step carries its outcome and the line for it", () => {
        const step = recordStep("switch", ["a"], Date.now(), { kind: "done", detail: "patched" });
        assert.deepStrictEqual(
            { ...step, seconds: 0 },
            { step: "switch", changes: ["a"], seconds: 0, outcome: { kind: "done", detail: "patched" }, result: "patched" },
        );
    });

    describe("runStep: rollback's and restore's steps", () => {
        let dir: string;
        let cluster: { kubectl: ReturnType<typeof kubectlCommand>; namespace: string };

        before(async () => {
            // A port that was free a moment ago: nothing listens there.
            const port = await new Promise<number>(resolve => {
                const server = net.createServer().listen(0, "127.0.0.1", () => {
                    const { port } = server.address() as net.AddressInfo;
                    server.close(() => resolve(port));
                });
            });
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-outcome-"));
            const kubeconfig = path.join(dir, "kubeconfig");
            fs.writeFileSync(
                kubeconfig,
                [
                    "apiVersion: v1",
                    "kind: Config",
                    "clusters: [{ name: gone, cluster: { server: 'https://127.0.0.1:" + port + "', insecure-skip-tls-verify: true } }]",
                    "users: [{ name: u, user: { token: t } }]",
                    "contexts: [{ name: c, context: { cluster: gone, user: u } }]",
                    "current-context: c",
                ].join("\n"),
            );
            cluster = { kubectl: kubectlCommand({ kubeconfig }), namespace: "physioflow-test" };
        });

        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("done: recorded with its changes and its line; the cluster is not read", async () => {
            const steps: StepResult[] = [];
            const ended: { live?: LiveColor } = {};
            await runStep(
                steps,
                cluster,
                "rollback",
                async () => ({ changes: ["~ Service physioflow-api update"], detail: "stack matches the cluster" }),
                ended,
            );
            await runStep(steps, cluster, "switch", async () => ({}), ended);
            assert.deepStrictEqual(
                steps.map(step => [step.step, step.changes, step.outcome, step.result]),
                [
                    ["rollback", ["~ Service physioflow-api update"], { kind: "done", detail: "stack matches the cluster" }, "stack matches the cluster"],
                    ["switch", [], { kind: "done" }, "done"],
                ],
            );
            assert.strictEqual(ended.live, undefined);
        });

        it("failed: recorded with its error and the live color read back (here unreadable, and why), and the error thrown on", async () => {
            const steps: StepResult[] = [];
            const ended: { live?: LiveColor } = {};
            await assert.rejects(
                runStep(
                    steps,
                    cluster,
                    "switch",
                    async () => {
                        throw new Error("the update failed\nits details");
                    },
                    ended,
                ),
                /^Error: the update failed/,
            );
            assert.strictEqual(steps.length, 1);
            const [step] = steps;
            assert.strictEqual(step.outcome.kind, "failed");
            assert.ok(step.outcome.kind === "failed" && step.outcome.error === "the update failed", JSON.stringify(step.outcome));
            assert.ok(step.outcome.kind === "failed" && step.outcome.live.color === "unknown", JSON.stringify(step.outcome));
            assert.match(step.result, /^failed: the update failed; live color unknown \(kubectl get services,.*: .+\)$/);
            assert.deepStrictEqual(ended.live, step.outcome.kind === "failed" ? step.outcome.live : undefined);
        });
    });
});
