/**
 * The watch after a switch, on the real engine and a real control plane: new pods that crash-loop
 * (a kwok Stage) and a 5xx rate seen by a real Prometheus (Debian's package) scraping a loopback
 * app each roll the deploy back by themselves; a Prometheus the watch cannot read stops the deploy
 * before anything changes.
 */
import * as assert from "assert";
import { deploy, DeployRefusedError } from "../../release/deploy";
import { crashLoopStage } from "../support/clusterFaults";
import { prometheusScrapingApp } from "../support/metricsServer";
import { apps, releaseFixture } from "../support/releaseFixture";

describe("the watch after a switch on the real engine and a real control plane: restarts of crash-looping pods, and the error rate from a real Prometheus", function () {
    const f = releaseFixture("deploywatchtest");
    const namespace = f.namespace;
    const watch = { seconds: 3, intervalMs: 300 };
    const scraped = prometheusScrapingApp(namespace, { "200": 20, "500": 0.2 });
    const { app } = scraped;
    const errorRateQuery = `sum(rate(http_requests_total{namespace="${namespace}",code=~"5.."}[10s]))`;

    it("crash-looping new pods during the watch: their restarts roll the deploy back to the still-warm old color", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        const result = await deploy(f.target, "v6.0.0", {
            watch: { seconds: 30, intervalMs: 300 },
            out: line => {
                lines.push(line);
                if (line.startsWith("watch: ")) {
                    void f.cluster
                        .kubectl(["apply", "-f", "-"], crashLoopStage("test-green-crashes", namespace, { version: "green" }, { intervalMs: 500 }))
                        .then(() =>
                            f.cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "version=green,app!=physioflow-smoke", "physioflow-test/crash=true"]),
                        );
                }
            },
        });
        try {
            assert.strictEqual(result.ok, false, lines.join("\n"));
            assert.deepStrictEqual(
                result.steps.map(step => step.step),
                ["release", "switch", "watch", "rollback"],
            );
            assert.match(result.rolledBack!.reason, /^\d+ container restart\(s\) of green's pods since the switch \(allowed: 0\)$/);
            const state = await f.live("blue");
            for (const app of apps) assert.strictEqual(state.services[app].selector.version, "blue");
            await f.noLock();
        } finally {
            await f.cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-green-crashes"]);
        }
    });

    it("a watch that cannot read the error rate is refused before anything changes", async () => {
        await f.s.set({ prometheusUrl: "http://127.0.0.1:9/", errorRateQuery, errorRateThreshold: "1" });
        const before = await f.s.stack.getAllConfig();
        await assert.rejects(
            deploy(f.target, "v6.0.1", { watch }),
            (error: Error) =>
                error instanceof DeployRefusedError &&
                /^the watch cannot read the error rate: Prometheus at http:\/\/127\.0\.0\.1:9\/ is unreachable: .*; nothing changed$/.test(error.message),
        );
        assert.deepStrictEqual(await f.s.stack.getAllConfig(), before);
        await f.noLock();
    });

    it("an error rate above the threshold during the watch rolls back by itself, and says what Prometheus saw", async function () {
        this.timeout(3 * 60 * 1000);
        await f.s.set({ prometheusUrl: scraped.prometheus.url });
        const lines: string[] = [];
        const result = await deploy(f.target, "v6.0.1", {
            watch: { seconds: 60, intervalMs: 500 },
            out: line => {
                lines.push(line);
                // After the switch the new color answers 5xx: 20 a second.
                if (line.startsWith("watch: ")) app.setRate("500", 20);
            },
        });
        app.setRate("500", 0.2);
        assert.strictEqual(result.ok, false, lines.join("\n"));
        assert.ok(
            lines.some(line => /^error rate: [\d.e-]+\/s now \(rolls back above 1\/s; query: /.test(line)),
            lines.join("\n"),
        );
        assert.ok(lines.includes("watch: green for 60 s: readiness and restarts, error rate"), lines.join("\n"));
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release", "switch", "watch", "rollback"],
        );
        assert.match(result.rolledBack!.reason, /^error rate [\d.]+\/s above 1\/s \(query: sum\(rate\(http_requests_total/);
        await f.live("blue");
        assert.deepStrictEqual(f.events().slice(-2), ["switch blue->green", "automatic-rollback green->blue"]);
        await f.noLock();
        await f.s.stack.removeAllConfig(["physioflow:prometheusUrl", "physioflow:errorRateQuery", "physioflow:errorRateThreshold"]);
    });
});
