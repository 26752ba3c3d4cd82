/**
 * The release commands on the real node (docs/node.md), under load: one stack of the cluster half
 * with the real-node settings (`podNodeLabel`, `imagePullPolicy: Never`, `dbHostForPods`), its pods
 * run by containerd and Ready through their real /health probes, and the load generator
 * (docs/traffic.md) inside the node's network namespace against the live API Service through each
 * command, one after the other on the same stack: the first deploy, `deploy` (release, smoke gate,
 * switch, watch, finish), `rollback --emergency` to the cold old color, `rollback` to the warm one,
 * a stack update that switches and scales the old color down at once (the scale-down delay), the
 * watch's automatic rollback on a real 5xx rate (a real Prometheus in the node's namespace scraping
 * the real pods) and on real failing health, and `rollback --restore`. Every command whose live
 * color was healthy drops no request of either sampler; a broken release's failures stay in its
 * switch-watch-rollback window and none follows the rollback; the restore's stay in the API's time
 * off the database. The negative control (the live color scaled down before the live Service leaves
 * it) drops requests, so the measurement can see them. Each command prints its figures.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { createBackup, currentMigrationVersion, migrateUp } from "../../database";
import type { ConnectionSettings } from "../../database/connection";
import { Cluster } from "../../devenv/cluster";
import { describePhase, FailureKind, failureKinds, LoadReport, samplerNames, startLoad } from "../../devenv/loadGenerator";
import { RealNode } from "../../devenv/node";
import { forgetFlowsTo } from "../../devenv/nodeTraffic";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { deploy } from "../../release/deploy";
import { restoreRollback } from "../../release/restoreRollback";
import { rollback } from "../../release/rollback";
import { ReleaseTarget } from "../../release/types";
import { watchPods } from "../support/clusterFaults";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { importFaultyRelease } from "../support/faultyRelease";
import { stackFileConfig } from "../support/programRun";
import { freshDatabase, TestDatabase } from "../support/postgres";
import { PrometheusServer, startPrometheusInNetns, TargetGroup } from "../support/prometheus";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";
import { sharedNode } from "../support/sharedNode";

const stackName = "noderelease";
const namespace = suiteNamespace(stackName);
const api = { name: "physioflow-api", port: 7011 };
const web = { name: "physioflow-web", port: 3000 };
const migrationsDir = path.join(__dirname, "../../migrations");
/** The releases: good tags scripts/apps.sh packs, and two broken ones packed here (docs/apps.md's faults). */
const tags = { first: "v1.0.0", good: "v1.1.0", answers500: "v3.0.0-5xx", failsHealth: "v3.1.0-unhealthy", devBuild: "v1.9.0-devbuild" };
/** dev's `NEXT_PUBLIC_API_URL`, baked into a web image as a dev build promoted by mistake would have it. */
const devApiUrl = stackFileConfig("dev")["physioflow:apiUrl"];
const registry = "registry.local:5000";
/** The unhealthy release passes its readiness probes and smoke test, and fails /health once it has answered this many requests (about 3 s of the load). */
const healthyFor = 300;
/** The error rate the watch reads (5xx per second over 10 s, the real pods' own counters) and the rate above which it rolls back. */
const errorRateQuery = `sum(rate(http_requests_total{namespace="${namespace}",code=~"5.."}[10s]))`;
const errorRateThreshold = 1;
/** kube-proxy's iptables minSyncPeriod (1 s by default) and a margin: how long after a Service gains endpoints until every new connection reaches them. */
const kubeProxySyncMs = 1500;

const ready = (pod: any) => pod.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";

/** What one command did to the traffic: the load's report, and the phases (named `<command> <step>`) that were the command's. */
interface Measured<T> {
    result: T;
    report: LoadReport;
    phases: string[];
}

describe("the release commands on the real node under load: deploy, emergency and normal rollback, the scale-down delay, automatic rollbacks on a real 5xx rate and on failing health, restore", function () {
    let cluster: Cluster;
    let node: RealNode;
    let db: TestDatabase;
    let admin: Client;
    let s: TestClusterStack;
    let apps: StandInApps;
    let prometheus: PrometheusServer;
    let target: ReleaseTarget;
    let netns: string;
    let liveIp: string;
    let connection: ConnectionSettings;
    const dbUser = `noderelease_${process.pid}`;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-noderelease-"));
    const figures: string[] = [];

    /** The app pods (not the smoke Jobs') of `color`. */
    const podsOf = async (color: string) =>
        (await cluster.getJson(["pods", "-n", namespace, "-l", `version=${color},app in (${api.name},${web.name})`])).items as any[];
    /** `urlPath` of `service`, requested from inside the node's namespace (curl there). */
    const get = async (service: string, port: number, urlPath: string) => {
        const ip = (await cluster.getJson(["service", "-n", namespace, service])).spec.clusterIP;
        const result = await node.exec(["curl", "-sS", "-m", "5", "-f", `http://${ip}:${port}${urlPath}`]);
        assert.strictEqual(result.status, 0, `curl ${service}${urlPath} inside the node: ${result.stderr}`);
        return result.stdout;
    };
    /** The live API's tag, from its /version. */
    const liveTag = async () => JSON.parse(await get(api.name, api.port, "/version")).version as string;
    /** The live API's tag once it is `tag` (a selector patched by hand reaches kube-proxy a moment later), or the last seen after 30 s. */
    const liveTagBecomes = async (tag: string) => {
        let seen = "";
        for (const deadline = Date.now() + 30_000; Date.now() < deadline && seen !== tag; await new Promise(r => setTimeout(r, 250))) {
            seen = await liveTag().catch((error: Error) => error.message);
        }
        return seen;
    };
    /** Until no pod of the namespace is terminating (old pods drain their keep-alive connections as they stop). */
    const podsSettled = async () => {
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise(r => setTimeout(r, 250))) {
            const pods = (await cluster.getJson(["pods", "-n", namespace])).items as any[];
            if (!pods.some(pod => pod.metadata.deletionTimestamp)) return;
        }
    };

    /** The pod of the smoke Job `physioflow-smoke-<color>` as it is now (not an earlier Job's of that name). */
    const smokePod = async (color: string) => {
        const job = await cluster.getJson(["job", "-n", namespace, `physioflow-smoke-${color}`]);
        const pods = (await cluster.getJson(["pods", "-n", namespace, "-l", `batch.kubernetes.io/controller-uid=${job.metadata.uid}`])).items as any[];
        assert.strictEqual(pods.length, 1, `pods of Job physioflow-smoke-${color}: ${pods.map(p => p.metadata.name).join(", ")}`);
        return pods[0];
    };
    /** Where a smoke Job's pod ran (the real node, by containerd, the smoke image) and how it ended. */
    const ranOnTheNode = (pod: any) => {
        assert.strictEqual(pod.spec.nodeName, node.name, `${pod.metadata.name} did not run on the real node`);
        const container = pod.status.containerStatuses[0];
        assert.match(container.containerID, /^containerd:\/\/[0-9a-f]{64}$/, "run by containerd, not played by kwok");
        assert.strictEqual(container.image, `${registry}/physioflow-smoke:v1`);
        return {
            phase: pod.status.phase as string,
            exitCode: container.state.terminated?.exitCode as number,
            message: String(container.state.terminated?.message ?? ""),
        };
    };

    /**
     * Runs `command` with the load generator sending to the live API Service (50 requests a second
     * from each sampler); each step the command announces (`release: …`, `switch: …`, the watch's
     * `  breach: …`) starts a phase `<name> <step>`. After it: a phase `<name> after` until the old
     * pods are gone, then the figures, printed. With `reconnectAt`, the pooled sampler reconnects
     * when a line of the command matches it (its connections then go where new ones go).
     */
    const underLoad = async <T>(name: string, command: (out: (line: string) => void) => Promise<T>, reconnectAt?: RegExp): Promise<Measured<T>> => {
        // Each measurement from a clean slate: no flow an earlier test sent to a pod now gone (docs/traffic.md).
        const forgotten = await forgetFlowsTo(node, liveIp);
        console.log(
            `      ${name}: first deleted the node's ${forgotten.deleted} conntrack entries to the live Service, ${forgotten.unanswered} of them unanswered`,
        );
        const load = await startLoad({
            binary: apps.bin.load,
            netns,
            url: `http://${liveIp}:${api.port}/version`,
            ratePerSecond: 50,
            // A new connection whose first SYN goes unanswered is retried by the kernel after 1 s: slow (its
            // latency shows in max), not dropped. At 1 s such requests counted as timeouts (docs/traffic.md).
            timeoutMs: 2000,
            phase: `${name} before`,
        });
        const phases: string[] = [];
        const lines: string[] = [];
        const phase = (step: string) => {
            const phaseName = `${name} ${step}`;
            if (phases.at(-1) === phaseName) return;
            phases.push(phaseName);
            void load.phase(phaseName);
        };
        let result: T;
        try {
            await new Promise(resolve => setTimeout(resolve, 1000));
            phase("start");
            result = await command(line => {
                lines.push(line);
                if (reconnectAt?.test(line)) void load.reconnect();
                const step = /^([a-z]+): /.exec(line)?.[1];
                if (line.startsWith("  breach: ")) phase("rollback");
                else if (line.startsWith("api: off the database")) phase("api-off");
                else if (line.startsWith("api: back on the database")) phase("api-back");
                else if (line.startsWith("api: ready again")) phase("api-ready");
                else if (step && ["release", "verify", "switch", "watch", "finish", "rollback", "backup", "restore"].includes(step)) phase(step);
            });
            phase("after");
            await podsSettled();
            await new Promise(resolve => setTimeout(resolve, 1500));
        } catch (error) {
            await load.stop().catch(() => undefined);
            throw new Error(`${(error as Error).message}\n${lines.join("\n")}`, { cause: error });
        }
        const report = await load.stop();
        const total = samplerNames.reduce((sum, n) => sum + report.totals[n].requests, 0);
        const own = report.phases.filter(p => phases.includes(p.name));
        const requests = own.reduce((sum, p) => sum + samplerNames.reduce((n, sampler) => n + p.samplers[sampler].requests, 0), 0);
        const failed = own.reduce((sum, p) => sum + samplerNames.reduce((n, sampler) => n + p.samplers[sampler].failed, 0), 0);
        const p99 = Math.max(...own.flatMap(p => samplerNames.map(sampler => p.samplers[sampler].p99Ms ?? 0)));
        const max = Math.max(...own.flatMap(p => samplerNames.map(sampler => p.samplers[sampler].maxMs ?? 0)));
        const summary = `${name}: ${requests.toLocaleString("en-US")} requests, ${failed.toLocaleString("en-US")} failed, p99 ${Math.round(p99)} ms, max ${Math.round(max)} ms`;
        figures.push(summary, ...phases.map(p => `  ${describePhase(report, p)}`));
        process.stderr.write(
            `      traffic: ${summary} (${total} with the second before)\n${phases.map(p => `        ${describePhase(report, p)}\n`).join("")}`,
        );
        return { result: result!, report, phases };
    };
    /** The phases of `measured` in which a request failed, each as its figures' line. */
    const failedPhases = (measured: Measured<unknown>, which: string[] = measured.phases, kinds: readonly FailureKind[] = failureKinds) =>
        measured.report.phases
            .filter(p => which.includes(p.name) && samplerNames.some(n => kinds.some(kind => p.samplers[n].failures[kind] > 0)))
            .map(p => {
                // When, in ms from the phase's start, each sampler's failures ended (the series' 100 ms steps).
                const when = samplerNames.map(n =>
                    measured.report.series[n]
                        .filter(step => step.startMs >= p.startMs && step.startMs < p.endMs && Object.values(step.failures).some(count => count > 0))
                        .map(step => `${n} +${step.startMs - p.startMs}ms`),
                );
                return `${describePhase(measured.report, p.name)} (${p.endMs - p.startMs} ms) ${when.flat().join(" ")} ${JSON.stringify(samplerNames.map(n => p.samplers[n].examples))}`;
            });

    /** The API pods with an address, as Prometheus's targets: their pod IPs, as the API server's watch reports them (never dialed from here). */
    let apiPodWatch: Awaited<ReturnType<typeof watchPods>> | undefined;
    const apiPods = async (): Promise<TargetGroup[]> =>
        [...apiPodWatch!.pods()]
            .filter(([, pod]) => pod.podIP)
            .map(([name, pod]) => ({ targets: [`${pod.podIP}:${api.port}`], labels: { namespace, pod: name, color: pod.color } }));

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        [cluster, node, db, apps] = await Promise.all([sharedCluster(), sharedNode(), freshDatabase("node_release"), standInApps()]);
        netns = `/proc/${fs.readFileSync(path.join(node.dir, "pids", "holder"), "utf8").trim()}/ns/net`;
        connection = db.connection;
        const [dbHost, dbPort] = (await node.relay(db.connection.port)).split(":");
        s = await createTestClusterStack(stackName, {
            kubeconfig: cluster.kubeconfigPath,
            namespace,
            node: { label: `${node.label.key}=${node.label.value}`, dbHost },
        });
        admin = await db.connect();
        // The colors' own logins, as the database half would make them (the cluster half holds their passwords).
        for (const color of ["blue", "green"] as const) {
            await admin.query(`CREATE ROLE ${dbUser}_${color} LOGIN PASSWORD '${s.colorPasswords[color]}'`);
        }
        await migrateUp({ dir: migrationsDir, connection });
        apiPodWatch = await watchPods(cluster, namespace, `app=${api.name}`);
        [prometheus] = await Promise.all([
            startPrometheusInNetns(netns, api.name, apiPods),
            importFaultyRelease(node, apps, tags.answers500, { FAULT: "5xx" }),
            importFaultyRelease(node, apps, tags.failsHealth, { FAULT: "unhealthy", FAULT_AFTER_REQUESTS: String(healthyFor) }),
            importFaultyRelease(node, apps, tags.devBuild, {}, { buildEnv: { NEXT_PUBLIC_API_URL: devApiUrl } }),
        ]);
        await s.set({
            dbPort,
            dbName: db.name,
            dbUser,
            readinessTimeoutSeconds: "120",
            migrationTarget: await currentMigrationVersion(connection),
            prometheusUrl: prometheus.url,
            errorRateQuery,
            errorRateThreshold: String(errorRateThreshold),
        });
        target = { stack: s.stack, kubectl: cluster.kubectl, namespace };
    });
    after(async () => {
        await prometheus?.stop();
        await apiPodWatch?.stop();
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
        for (const color of ["blue", "green"]) await admin?.query(`DROP ROLE IF EXISTS ${dbUser}_${color}`);
        await admin?.end();
        fs.rmSync(work, { recursive: true, force: true });
        if (figures.length) process.stderr.write(`      traffic figures:\n${figures.map(f => `        ${f}\n`).join("")}`);
    });

    it("first deploy: both apps' blue pods run on the real node, Ready through /health with blue's login; the live Services answer inside the node; Prometheus there scrapes the API pod", async function () {
        this.timeout(10 * 60 * 1000);
        await s.up();
        const pods = await podsOf("blue");
        assert.deepStrictEqual(pods.map(p => p.metadata.labels.app).sort(), [api.name, web.name]);
        for (const pod of pods) {
            assert.strictEqual(pod.spec.nodeName, node.name, `${pod.metadata.name} is not on the real node`);
            assert.ok(ready(pod), `${pod.metadata.name} is not Ready`);
            assert.match(pod.status.containerStatuses[0].containerID, /^containerd:\/\//, "run by containerd, not played by kwok");
            assert.strictEqual(pod.spec.containers[0].imagePullPolicy, "Never");
        }
        assert.deepStrictEqual(await podsOf("green"), []);
        assert.strictEqual(JSON.parse(await get("physioflow-api-blue", api.port, "/health")).database, "ok");
        assert.deepStrictEqual(JSON.parse(await get(api.name, api.port, "/version")), { version: tags.first, color: "", environment: "local" });
        assert.match(await get(web.name, web.port, "/"), /<html/i);
        liveIp = (await cluster.getJson(["service", "-n", namespace, api.name])).spec.clusterIP;
        // The watch's error rate comes from the real pods: Prometheus in the node's namespace finds them through the API server.
        const podIp = pods.find(p => p.metadata.labels.app === api.name).status.podIP;
        await prometheus.waitForTarget(`http://${podIp}:${api.port}/metrics`, 60_000);
    });

    it("deploy of a new tag (release, smoke gate, switch, watch, finish) drops no request of either sampler", async function () {
        this.timeout(10 * 60 * 1000);
        const measured = await underLoad(`deploy ${tags.good} blue→green`, o => deploy(target, tags.good, { watch: { seconds: 5, intervalMs: 500 }, out: o }));
        const result = measured.result;
        assert.strictEqual(result.ok, true, result.error);
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.result}`),
            ["release: done", "switch: done", "watch: no breach", "finish: done"],
        );
        assert.strictEqual(await liveTag(), tags.good);
        assert.deepStrictEqual(await podsOf("blue"), [], "the finish scaled blue down");
        // The smoke gate ran for real: green's Job on the node, reaching green's Services by name through its DNS (the finish deleted blue's).
        const smoke = ranOnTheNode(await smokePod("green"));
        assert.deepStrictEqual([smoke.phase, smoke.exitCode], ["Succeeded", 0], "green's smoke Job");
        assert.ok(measured.report.totals.fresh.requests > 500 && measured.report.totals.pooled.requests > 500, JSON.stringify(measured.report.totals));
        assert.deepStrictEqual(failedPhases(measured), []);
    });

    it("rollback --emergency to the cold old color (scaled up through the API, its one-off smoke Job, the Services patched, the stack reconciled) drops no request", async function () {
        this.timeout(10 * 60 * 1000);
        const measured = await underLoad("rollback --emergency green→blue", o => rollback(target, { emergency: true, out: o }));
        const result = measured.result;
        assert.strictEqual(result.ok, true, result.error);
        assert.deepStrictEqual([result.from, result.to], ["green", "blue"]);
        assert.ok(result.coldStart && result.coldStart.readyMs > 0, "blue was cold: brought up through the API");
        assert.strictEqual(await liveTag(), tags.first);
        assert.ok((await podsOf("green")).every(ready), "green stays warm");
        assert.deepStrictEqual(failedPhases(measured), []);
    });

    it("rollback to the warm other color drops no request", async function () {
        this.timeout(10 * 60 * 1000);
        const measured = await underLoad("rollback blue→green", o => rollback(target, { out: o }));
        assert.strictEqual(measured.result.ok, true, measured.result.error);
        assert.deepStrictEqual([measured.result.from, measured.result.to], ["blue", "green"]);
        assert.strictEqual(await liveTag(), tags.good);
        assert.deepStrictEqual(failedPhases(measured), []);
    });

    it("negative control: the live color scaled down before the live Service leaves it (the runbook's steps in the wrong order) drops requests, and the measurement sees them", async function () {
        this.timeout(10 * 60 * 1000);
        assert.ok((await podsOf("blue")).every(ready) && (await podsOf("blue")).length === 2, "blue is warm");
        const measured = await underLoad("hand switch green→blue, green scaled down first", async () => {
            await cluster.kubectl(["scale", "deployment", "-n", namespace, `${api.name}-green`, "--replicas=0"]);
            await cluster.kubectl(["wait", "--for=delete", "pod", "-n", namespace, "-l", `app=${api.name},version=green`, "--timeout=60s"]);
            await cluster.kubectl(["patch", "service", "-n", namespace, api.name, "-p", JSON.stringify({ spec: { selector: { version: "blue" } } })]);
        });
        const fresh = measured.report.phases.find(p => p.name === measured.phases[0])!.samplers.fresh;
        assert.ok(fresh.failed > 0, `the fresh sampler saw no failure: ${JSON.stringify(fresh)}`);
        // Back as the stack has it (green live with its pod), so the next commands start from the stack's state.
        await cluster.kubectl(["scale", "deployment", "-n", namespace, `${api.name}-green`, "--replicas=1"]);
        await cluster.kubectl(["rollout", "status", "deployment", "-n", namespace, `${api.name}-green`, "--timeout=120s"]);
        await cluster.kubectl(["patch", "service", "-n", namespace, api.name, "-p", JSON.stringify({ spec: { selector: { version: "green" } } })]);
        assert.strictEqual(await liveTagBecomes(tags.good), tags.good);
    });

    it("a stack update that switches and scales the old color down in the same update (scaleDownDelaySeconds' default, 10 s) drops no request", async function () {
        this.timeout(10 * 60 * 1000);
        const measured = await underLoad("switch green→blue, green scaled down in the same update", async o => {
            o("switch: activeColor blue, inactiveWarm false");
            await s.set({ activeColor: "blue", inactiveWarm: "false" });
            await s.up();
        });
        assert.strictEqual(await liveTag(), tags.first);
        assert.deepStrictEqual(await podsOf("green"), []);
        assert.deepStrictEqual(failedPhases(measured), []);
    });

    /** Phases of a broken release's deploy: before its switch (no failure allowed), the switch-watch-rollback window, after the command. */
    const windows = (measured: Measured<unknown>) => {
        const switchAt = measured.phases.findIndex(p => p.endsWith(" switch"));
        return { before: measured.phases.slice(0, switchAt), window: measured.phases.slice(switchAt, -1), after: measured.phases.slice(-1) };
    };

    /**
     * `deploy` of a broken `tag` under load, rolled back by its watch for `reason`: the steps, the reason,
     * the old color live again, nothing failed at all before the switch, and nothing refused, reset or
     * 5xx after the rollback (a new connection may still time out then: a SYN the window sent to a pod
     * now gone left a conntrack entry that its source port meets again; docs/traffic.md). The pooled
     * sampler reconnects as the watch starts, so its keep-alive connections are on the broken color
     * when the rollback comes: they must end with it (the rollback scales it down and waits for its
     * pods to stop). Returns the measurement and the switch-to-rollback window's phases.
     */
    const rolledBackByWatch = async (tag: string, watchSeconds: number, reason: RegExp) => {
        const measured = await underLoad(
            `deploy ${tag} blue→green`,
            o => deploy(target, tag, { watch: { seconds: watchSeconds, intervalMs: 500 }, out: o }),
            /^watch: /,
        );
        const result = measured.result;
        assert.strictEqual(result.ok, false);
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.outcome?.kind}`),
            ["release: done", "switch: done", "watch: breach", "rollback: done"],
            JSON.stringify(result.steps),
        );
        assert.match(result.rolledBack!.reason, reason);
        assert.strictEqual(await liveTag(), tags.first);
        assert.deepStrictEqual(
            (await podsOf("green")).map(pod => pod.metadata.name),
            [],
            "the broken color's pods outlived the rollback",
        );
        const { before, window, after } = windows(measured);
        assert.deepStrictEqual(failedPhases(measured, before), []);
        assert.deepStrictEqual(failedPhases(measured, after, ["refused", "reset", "5xx", "other"]), []);
        return { measured, window };
    };

    it("automatic rollback on a real 5xx rate: a release whose API answers 500 is switched to, the watch reads the pods' error rate from Prometheus and switches back by itself; no failure before the switch or after the rollback", async function () {
        this.timeout(10 * 60 * 1000);
        const { measured, window } = await rolledBackByWatch(tags.answers500, 60, /^error rate [\d.]+\/s above 1\/s \(query: sum\(rate\(http_requests_total/);
        const inWindow = measured.report.phases.filter(p => window.includes(p.name));
        const fivexx = inWindow.reduce((n, p) => n + samplerNames.reduce((m, sampler) => m + p.samplers[sampler].failures["5xx"], 0), 0);
        assert.ok(fivexx > 0, "the broken color answered 500 while it was live");
    });

    it("automatic rollback on real failing health: a release that passes its probes and smoke test and fails /health under traffic goes unready; the watch sees it and switches back; no failure before the switch or after the rollback", async function () {
        this.timeout(10 * 60 * 1000);
        await rolledBackByWatch(tags.failsHealth, 90, /^(physioflow-api-green 0\/1 ready|\d+ container restart\(s\) of green's pods since the switch)/);
    });

    it("rollback --restore: the API off the database for the restore (its requests refused, as the command says), then back and ready before the switch; nothing fails from then on", async function () {
        this.timeout(10 * 60 * 1000);
        const tagsNow = { blue: tags.first, green: tags.failsHealth };
        const archive = (
            await createBackup({
                connection,
                outDir: path.join(work, "archives"),
                environment: "local",
                label: "on-node",
                colors: { colors: tagsNow, live: "blue" },
                prune: false,
            })
        ).archivePath;
        const database = { connection, migrationsDir, backupDir: path.join(work, "backups"), environment: "local", migratesOutsideStack: true };
        const measured = await underLoad("rollback --restore (blue stays live)", o =>
            restoreRollback({ ...target, database, useMigrationVersion: version => s.set({ migrationTarget: version }) }, archive, { out: o }),
        );
        const result = measured.result;
        assert.strictEqual(result.ok, true, result.error);
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["verify", "backup", "restore", "switch"],
        );
        assert.strictEqual(await liveTag(), tags.first);
        const at = (step: string) => measured.phases.findIndex(p => p.endsWith(` ${step}`));
        assert.ok(at("api-off") > 0 && at("api-ready") > at("api-off"), measured.phases.join(", "));
        assert.deepStrictEqual(failedPhases(measured, measured.phases.slice(0, at("api-off"))), [], "nothing fails before the API goes off the database");
        // Once the command says the API is ready again (its pods Ready and the live Service listing them), nothing
        // fails after kube-proxy's sync period (1 s by default) has passed: the switch's update and after it.
        // (New connections may still time out: a SYN sent while the API was off to a pod now gone left a conntrack
        // entry that a reused source port meets again, for up to 120 s; docs/traffic.md.)
        const readyAt = measured.report.phases.find(p => p.name === measured.phases[at("api-ready")])!.startMs;
        const late = samplerNames.flatMap(n =>
            measured.report.series[n]
                .filter(
                    step => step.startMs >= readyAt + kubeProxySyncMs && (["refused", "reset", "5xx", "other"] as const).some(kind => step.failures[kind] > 0),
                )
                .map(step => `${n} +${step.startMs - readyAt} ms after "api: ready again": ${JSON.stringify(step.failures)}`),
        );
        assert.deepStrictEqual(late, [], failedPhases(measured, measured.phases.slice(at("api-ready"))).join("\n"));
    });

    it("a release whose web image was built with dev's NEXT_PUBLIC_API_URL is refused by its smoke Job on the node before the switch, naming the baked URL; the live color keeps serving", async function () {
        this.timeout(10 * 60 * 1000);
        assert.match(devApiUrl, /^https?:\/\//);
        const measured = await underLoad(`deploy ${tags.devBuild} (a dev build)`, o =>
            deploy(target, tags.devBuild, { watch: { seconds: 5, intervalMs: 500 }, out: o }),
        );
        const result = measured.result;
        assert.strictEqual(result.ok, false, "the dev build was released");
        // Stopped at the release step: no switch was tried; blue, live before, is live.
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release"],
        );
        assert.match(result.steps[0].result, /^failed: physioflow-smoke-green .*; blue is live$/);
        assert.ok(
            result.error!.includes("physioflow-smoke-green: FAIL web build: http://physioflow-web-green:3000/_next/static/chunks/") &&
                result.error!.includes(`has NEXT_PUBLIC_API_URL=${devApiUrl} baked in, not this stack's http://physioflow.example.test/api`),
            result.error,
        );
        const smoke = ranOnTheNode(await smokePod("green"));
        assert.deepStrictEqual([smoke.phase, smoke.exitCode], ["Failed", 1]);
        // The API's checks passed in the same run: only the web build was refused.
        assert.match(smoke.message, /^ok {3}http:\/\/physioflow-api-green:7011\/health: 200$/m);
        assert.strictEqual(await liveTag(), tags.first);
        // The live color never moved: nothing failed.
        assert.deepStrictEqual(failedPhases(measured), []);
    });

    it("the live color's pods replaced under load (a rollout: what a node drain or a change of the pod template does) drop no request with the colors' preStop sleep; without it (the negative control) they do", async function () {
        this.timeout(10 * 60 * 1000);
        const deployment = `${api.name}-blue`;
        const template = async () => (await cluster.getJson(["deployment", "-n", namespace, deployment])).spec.template.spec;
        const replaced = async () => {
            await cluster.kubectl(["rollout", "restart", "deployment", "-n", namespace, deployment]);
            await cluster.kubectl(["rollout", "status", "deployment", "-n", namespace, deployment, "--timeout=180s"]);
        };
        assert.strictEqual(await liveTag(), tags.first, "blue is live");
        const spec = await template();
        assert.deepStrictEqual([spec.containers[0].lifecycle, spec.terminationGracePeriodSeconds], [{ preStop: { sleep: { seconds: 5 } } }, 35]);
        const asReleased = await underLoad("blue's pods replaced, preStop sleep 5 s", replaced);
        assert.deepStrictEqual(failedPhases(asReleased), []);

        // Negative control: the same replacement without the sleep. The old pod gets SIGTERM at once and
        // closes its listener while kube-proxy still sends it new connections: they are refused.
        await cluster.kubectl([
            "patch",
            "deployment",
            "-n",
            namespace,
            deployment,
            "--type=json",
            "-p",
            JSON.stringify([{ op: "remove", path: "/spec/template/spec/containers/0/lifecycle" }]),
        ]);
        await cluster.kubectl(["rollout", "status", "deployment", "-n", namespace, deployment, "--timeout=180s"]);
        await podsSettled();
        assert.strictEqual((await template()).containers[0].lifecycle, undefined);
        const seen: { line: string; failed: number }[] = [];
        for (let attempt = 1; attempt <= 3 && !seen.some(run => run.failed > 0); attempt++) {
            const without = await underLoad(`blue's pods replaced without preStop (${attempt})`, replaced);
            const failed = samplerNames.reduce((sum, n) => sum + without.report.totals[n].failed, 0);
            seen.push({ line: without.phases.map(p => describePhase(without.report, p)).join("; "), failed });
        }
        assert.ok(
            seen.some(run => run.failed > 0),
            `three replacements without the preStop sleep dropped nothing, so the sleep is not shown to matter:\n${seen.map(run => run.line).join("\n")}`,
        );
    });
});
