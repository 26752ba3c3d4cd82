/**
 * The watch after a switch, on the real engine and a real control plane: new pods that crash-loop
 * (a kwok Stage) and a 5xx rate seen by a real Prometheus (Debian's package) scraping a loopback
 * app each roll the deploy back by themselves; a Prometheus the watch cannot read stops the deploy
 * before anything changes. A cluster the watch cannot read (the command's own kubectl failing) is a
 * breach too; an automatic rollback the API server refuses is an alarm (notification, exit 3, the
 * release record, `status`).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { kubectlFor } from "../../devenv/cluster";
import { deploy, watchColor } from "../../release/deploy";
import { DeployRefusedError } from "../../release/types";
import { readReleaseRecord } from "../../release/releaseRecord";
import { rollback } from "../../release/rollback";
import { formatStatus, readStatus } from "../../release/status";
import { runReleaseCommandOn } from "../support/cliRun";
import { crashLoopStage, flakyKubectl, refusingPolicy } from "../support/clusterFaults";
import { prometheusScrapingApp } from "../support/metricsServer";
import { apps, releaseFixture } from "../support/releaseFixture";

describe("the watch after a switch on the real engine and a real control plane: restarts of crash-looping pods, and the error rate from a real Prometheus", function () {
    const f = releaseFixture("deploywatchtest");
    const namespace = f.namespace;
    const watch = { seconds: 3, intervalMs: 1000 };
    const scraped = prometheusScrapingApp(namespace, { "200": 20, "500": 0.2 });
    const { app } = scraped;
    const errorRateQuery = `sum(rate(http_requests_total{namespace="${namespace}",code=~"5.."}[10s]))`;

    it("crash-looping new pods during the watch: their restarts roll the deploy back to the still-warm old color", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        const result = await deploy(f.target, "v6.0.0", {
            watch: { seconds: 30, intervalMs: 1000 },
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
            // Crash-looping pods are unready too: on a loaded machine two unready readings may come before a restart is counted.
            assert.match(
                result.rolledBack!.reason,
                /^(\d+ container restart\(s\) of green's pods since the switch \(allowed: 0\)|physioflow-api-green 0\/1 ready, physioflow-web-green 0\/1 ready)$/,
            );
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

    it("a watch that cannot read the cluster rolls back to the still-warm old color: three failed readings in a row are a breach", async function () {
        this.timeout(3 * 60 * 1000);
        const flaky = flakyKubectl(f.cluster.kubectl);
        const lines: string[] = [];
        const result = await deploy({ ...f.target, kubectl: flaky.kubectl }, "v6.1.0", {
            watch: { seconds: 30, intervalMs: 1000 },
            out: line => {
                lines.push(line);
                if (line.startsWith("watch: ")) flaky.failing = true;
                // Readable again once the watch has decided: the live color is read back after the rollback.
                if (line.startsWith("  breach: ")) flaky.failing = false;
            },
        });
        assert.strictEqual(result.ok, false, `${result.error}\n${lines.join("\n")}`);
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.outcome?.kind}`),
            ["release: done", "switch: done", "watch: breach", "rollback: done"],
        );
        assert.match(
            result.rolledBack!.reason,
            /^the cluster could not be read 3 times in a row: kubectl get .*: Unable to connect to the server: .*connection refused$/,
        );
        assert.ok(flaky.failures >= 3, `${flaky.failures} failed readings`);
        assert.deepStrictEqual(result.live, { color: "blue" });
        await f.live("blue");
        assert.deepStrictEqual(f.events(), ["switch blue->green", "automatic-rollback green->blue"]);
        await f.noLock();
    });

    it("an API server that accepts and never answers: each reading gives up after its request timeout, and three in a row are a breach (the watch never hangs)", async function () {
        this.timeout(60_000);
        const sockets: net.Socket[] = [];
        const silent = net.createServer(socket => sockets.push(socket)); // accepts, never answers
        await new Promise<void>(resolve => silent.listen(0, "127.0.0.1", resolve));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-silent-api-"));
        try {
            const kubeconfig = path.join(dir, "kubeconfig");
            const server = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
            fs.writeFileSync(
                kubeconfig,
                `apiVersion: v1\nkind: Config\nclusters: [{name: silent, cluster: {server: "${server}"}}]\n` +
                    `users: [{name: u, user: {}}]\ncontexts: [{name: silent, context: {cluster: silent, user: u}}]\ncurrent-context: silent\n`,
            );
            const lines: string[] = [];
            const started = Date.now();
            const decision = await watchColor(
                { ...f.target, kubectl: kubectlFor(f.cluster.binDir, kubeconfig) },
                "green",
                1,
                { seconds: 600, intervalMs: 100, requestTimeoutSeconds: 1 },
                line => lines.push(line),
            );
            assert.strictEqual(decision.kind, "breach", lines.join("\n"));
            assert.match(
                decision.kind === "breach" ? decision.reason : "",
                /^the cluster could not be read 3 times in a row: kubectl get .*--request-timeout=1s: /,
            );
            // Three readings, each bounded by its deadline (1 s + 2 s): without the deadline kubectl's discovery alone took ~9 s a reading.
            assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
            assert.ok(sockets.length >= 3, `${sockets.length} connections reached the silent server`);
        } finally {
            sockets.forEach(socket => socket.destroy());
            silent.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("an automatic rollback the API server refuses is an alarm: its own notification, exit 3 naming the live color read back, the release record and status flag it until a rollback succeeds", async function () {
        this.timeout(6 * 60 * 1000);
        const flaky = flakyKubectl(f.cluster.kubectl);
        const policy = "physioflow-test-deploywatch-no-blue";
        const refusesBlue = async () => {
            try {
                const patch = JSON.stringify({ spec: { selector: { version: "blue" } } });
                await f.cluster.kubectl(["patch", "service", "physioflow-api", "-n", namespace, "--dry-run=server", "--type", "merge", "-p", patch]);
                return false;
            } catch (error) {
                return /physioflow-test-policy/.test((error as Error).message);
            }
        };
        const breakRollback = async () => {
            // After the switch to green: the API server refuses to point a Service at blue (the rollback's
            // own update), then the watch loses the cluster (a breach).
            const services = { group: "", resource: "services" };
            await f.cluster.kubectl(
                ["apply", "-f", "-"],
                refusingPolicy(policy, namespace, services, "object.spec.selector.version != 'blue'", "physioflow-test-policy: no traffic to blue"),
            );
            while (!(await refusesBlue())) await new Promise(resolve => setTimeout(resolve, 200));
            flaky.failing = true;
        };
        let broken: Promise<void> | undefined;
        try {
            const run = await runReleaseCommandOn({ ...f.target, kubectl: flaky.kubectl }, ["deploy", "local", "v6.2.0", "--watch", "60s", "--json"], line => {
                if (line.startsWith("watch: ")) broken = breakRollback();
                if (line.startsWith("  breach: ")) flaky.failing = false;
            });
            await broken;
            const text = run.lines.join("\n");
            assert.strictEqual(run.code, 3, text);
            assert.match(
                run.lines.at(-1)!,
                /^automatic rollback FAILED, act now: .*physioflow-test-policy: no traffic to blue.*; green is live \(the watch's breach: the cluster could not be read 3 times in a row: .*\)$/,
                text,
            );
            const result = JSON.parse(run.stdout);
            assert.deepStrictEqual(
                result.steps.map((step: any) => `${step.step}: ${step.outcome?.kind}`),
                ["release: done", "switch: done", "watch: breach", "rollback: failed"],
            );
            assert.deepStrictEqual(result.steps[3].outcome.live, { color: "green" });
            assert.deepStrictEqual(result.live, { color: "green" });
            await f.live("green");
            assert.deepStrictEqual(f.events(), ["switch blue->green", "automatic-rollback-failed green->blue"]);
            assert.strictEqual(f.notifications[1].live, "green");
            assert.match(
                f.notifications[1].text,
                /^physioflow-deploywatchtest: v6\.2\.0 on green: the automatic rollback to blue FAILED, act now: .*; green is live$/,
            );

            const { alarms } = await readReleaseRecord(f.cluster.kubectl, namespace);
            assert.deepStrictEqual(
                alarms?.map(alarm => alarm.kind),
                ["automatic-rollback-failed"],
            );
            const flagged = formatStatus(await readStatus(f.target)).filter(line => line.startsWith("! alarm"));
            assert.strictEqual(flagged.length, 1, flagged.join("\n"));
            assert.match(flagged[0], /^! alarm +automatic-rollback-failed at \S+: .*FAILED, act now.*; cleared by the next successful deploy or rollback$/);
        } finally {
            await broken?.catch(() => undefined);
            flaky.failing = false;
            await f.cluster.kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found"]);
        }
        // The stack's activeColor says what is live (green), so the rollback the alarm asks for goes to blue;
        // once the cause is gone it succeeds, and that resolves the alarm.
        assert.strictEqual((await f.s.stack.getConfig("physioflow:activeColor")).value, "green");
        // And keeps blue warm: the failed update had set inactiveWarm false, under which a plain `pulumi up` would scale blue down.
        assert.strictEqual((await f.s.stack.getConfig("physioflow:inactiveWarm")).value, "true");
        const resolved = await rollback(f.target);
        assert.strictEqual(resolved.ok, true, resolved.error);
        assert.deepStrictEqual([resolved.from, resolved.to], ["green", "blue"]);
        await f.live("blue");
        assert.deepStrictEqual((await readReleaseRecord(f.cluster.kubectl, namespace)).alarms ?? [], []);
        const lines = formatStatus(await readStatus(f.target));
        assert.ok(!lines.some(line => line.startsWith("! alarm")), lines.join("\n"));
        await f.noLock();
    });
});
