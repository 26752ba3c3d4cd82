/**
 * `deploy` (release/deploy.ts) on the real engine and a real control plane: the release cycle as
 * stack updates, the smoke gate, the watch's automatic rollback, the deploy lock, and a deploy
 * resumed after one stopped between steps.
 */
import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { readClusterState, serviceServes, waitForClusterState } from "../../release/clusterState";
import { deploy, DeployRefusedError, ReleaseTarget } from "../../release/deploy";
import { DeployLockedError, deployLockName } from "../../release/deployLock";
import { changedSteps } from "../../release/engineEvents";
import { rollback } from "../../release/rollback";
import { restoreRollback } from "../../release/restoreRollback";
import { formatStatus, readStatus } from "../../release/status";
import { Cluster, startCluster } from "../../testbed/cluster";
import { crashLoopStage, failingPodStage, neverReadyStage, sampleReadyEndpoints } from "../../testbed/clusterFaults";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { metricsServer } from "../support/metricsServer";
import { PrometheusServer, startPrometheus } from "../../testbed/prometheus";
import { freshDatabase } from "../support/postgres";
import { currentMigrationVersion, migrateUp } from "../../database";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const namespace = "physioflow-local";
const apps = ["physioflow-api", "physioflow-web"];

describe("deploy: the release cycle on the real engine and a real control plane", function () {
    let cluster: Cluster;
    let s: TestClusterStack;
    let target: ReleaseTarget;
    const watch = { seconds: 3, intervalMs: 300 };
    const lease = (holder: string, renewedSecondsAgo: number) => {
        const at = new Date(Date.now() - renewedSecondsAgo * 1000).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
        return JSON.stringify({
            apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: deployLockName, namespace },
            spec: { holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: at, renewTime: at },
        });
    };
    const noLock = async () => assert.doesNotMatch(await cluster.kubectl(["get", "leases", "-n", namespace, "-o", "name"]), /physioflow-deploy/);
    const live = (color: "blue" | "green") => waitForClusterState(cluster.kubectl, namespace,
        st => apps.every(app => serviceServes(st, app, color, 1)), { what: `the live Services on ${color}` });

    // The team's webhook (the runbook's Slack), as a loopback server.
    const notifications: any[] = [];
    const webhook = http.createServer((req, res) => {
        let body = "";
        req.on("data", chunk => { body += chunk; });
        req.on("end", () => { notifications.push(JSON.parse(body)); res.writeHead(200).end(); });
    });
    const events = () => notifications.map(n => `${n.event} ${n.from}->${n.to}`);
    beforeEach(() => { notifications.length = 0; });

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        await new Promise<void>(resolve => webhook.listen(0, "127.0.0.1", resolve));
        cluster = await startCluster();
        s = await createTestClusterStack("deploytest", { kubeconfig: cluster.kubeconfigPath });
        await s.set({ notifyWebhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook` });
        await s.up(); // a first deploy: blue live with v1.0.0
        target = { stack: s.stack, kubectl: cluster.kubectl, namespace };
    });
    after(async () => {
        webhook.close();
        await s?.remove();
        await cluster?.stop();
    });

    it("a good release: v2 to green warm behind its smoke test, switch (selectors only), watch, finish; an abandoned lock is taken over and released", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["create", "-f", "-"], lease("ci@old-runner pid 1: deploy v1.9.0", 600));
        const lines: string[] = [];
        const sampler = sampleReadyEndpoints(cluster, namespace, "physioflow-api");
        const result = await deploy(target, "v2.0.0", { watch, out: line => lines.push(line) });
        const samples = await sampler.stop();
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.ok(lines.includes("lock: took over the abandoned deploy lock of ci@old-runner pid 1: deploy v1.9.0"), lines.join("\n"));
        assert.deepStrictEqual(result.steps.map(step => `${step.step}: ${step.result}`), ["release: done", "switch: done", "watch: no breach", "finish: done"]);
        const [release, sw, , finish] = result.steps;
        assert.deepStrictEqual(release.changes.filter(line => !/^\d+ unchanged$/.test(line)).map(line => line.split(/\s+/).slice(0, 3).join(" ")), [
            "~ Deployment physioflow-api-green", "~ Deployment physioflow-web-green", "+ Job physioflow-smoke-green", "+ SmokeTest physioflow-smoke-green",
        ]);
        assert.deepStrictEqual(sw.changes.filter(line => !/^\d+ unchanged$/.test(line)).map(line => line.replace(/\s+/g, " ")), [
            "~ Service physioflow-api update spec.selector.version", "~ Service physioflow-api-preview update spec.selector.version",
            "~ Service physioflow-web update spec.selector.version", "~ Service physioflow-web-preview update spec.selector.version",
        ]);
        assert.ok(finish.changes.some(line => /^- Job physioflow-smoke-blue +delete$/.test(line)), finish.changes.join("\n"));
        const state = await live("green");
        for (const app of apps) {
            assert.deepStrictEqual(state.deployments[`${app}-green`], { image: `registry.local:5000/${app}:v2.0.0`, replicas: 1, readyReplicas: 1, observed: true });
            assert.strictEqual(state.deployments[`${app}-blue`].replicas, 0);
        }
        assert.ok(samples.every(sample => sample.ready > 0), `the live Service had no ready endpoint during the deploy: ${JSON.stringify(samples)}`);
        await noLock();
        assert.deepStrictEqual(notifications, [{
            event: "switch", namespace, from: "blue", to: "green", tag: "v2.0.0", text: "physioflow-local: live traffic switched from blue to green (v2.0.0)",
        }]);
    });

    it("refuses a tag already live, and a deploy while another holds the lock, changing nothing", async () => {
        await assert.rejects(deploy(target, "v2.0.0", { watch }), (error: Error) =>
            error instanceof DeployRefusedError && error.message === "v2.0.0 is already live on green; nothing to deploy");
        await cluster.kubectl(["create", "-f", "-"], lease("ops@laptop pid 4242: deploy v2.1.0", 5));
        const before = await s.stack.getAllConfig();
        try {
            await assert.rejects(deploy(target, "v3.0.0", { watch }), (error: Error) =>
                error instanceof DeployLockedError && /^another deploy holds physioflow-local: ops@laptop pid 4242: deploy v2\.1\.0, since .* \(Lease physioflow-deploy, renewed \d+ s ago\); wait for it to finish$/.test(error.message));
            assert.deepStrictEqual(await s.stack.getAllConfig(), before);
        } finally {
            await cluster.kubectl(["delete", "lease", deployLockName, "-n", namespace]);
        }
    });

    it("a failing smoke test stops the deploy at the release step: no switch, green stays live, the lock is released", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-blue-smoke-fails", { app: "physioflow-smoke", version: "blue" }));
        try {
            const result = await deploy(target, "v3.0.0", { watch });
            assert.strictEqual(result.ok, false);
            assert.deepStrictEqual(result.steps.map(step => step.step), ["release"]);
            assert.match(result.error!, /^release failed: physioflow-smoke-blue was successfully created, but the Kubernetes API server reported that it failed to fully initialize or become live/, result.error);
            const state = await live("green");
            for (const app of apps) assert.strictEqual(state.services[app].selector.version, "green");
            await noLock();
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-smoke-fails"]);
        }
    });

    it("a breach during the watch (the new color's pods turn unready) rolls back by itself to the still-warm old color", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        const result = await deploy(target, "v3.0.1", {
            watch: { seconds: 30, intervalMs: 300 },
            out: line => {
                lines.push(line);
                // After the switch, blue's pods break.
                // (kwok plays a Stage on a pod's next change: the annotation is that change.)
                if (line.startsWith("watch: ")) {
                    void cluster.kubectl(["apply", "-f", "-"], neverReadyStage("test-blue-breaks", { version: "blue" }, ["Running"]))
                        .then(() => cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "version=blue,app!=physioflow-smoke", "physioflow-test/broken=true"]));
                }
            },
        });
        try {
            assert.strictEqual(result.ok, false, lines.join("\n"));
            assert.deepStrictEqual(result.steps.map(step => step.step), ["release", "switch", "watch", "rollback"]);
            assert.match(result.rolledBack!.reason, /^physioflow-(api|web)-blue 0\/1 ready/);
            assert.match(result.steps[2].result, /^breach: /);
            assert.deepStrictEqual(events(), ["switch green->blue", "automatic-rollback blue->green"]);
            assert.strictEqual(notifications[1].reason, result.rolledBack!.reason);

            // Blue is scaled but broken: even an emergency rollback refuses to send traffic to it.
            const refused = await rollback(target, { emergency: true });
            assert.strictEqual(refused.ok, false);
            assert.match(refused.error!, /^refusing to switch to blue: it has no ready pods \(physioflow-api-blue 0\/1 ready, physioflow-web-blue 0\/1 ready\); green stays live$/, refused.error);
            const after = await live("green");
            for (const app of apps) assert.strictEqual(after.services[app].selector.version, "green");
            await noLock();
            const state = await live("green");
            for (const app of apps) {
                assert.strictEqual(state.deployments[`${app}-green`].image, `registry.local:5000/${app}:v2.0.0`);
                assert.strictEqual(state.services[app].selector.version, "green");
            }
            await noLock();
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-breaks"]);
        }
        // The broken color is scaled down by a plain update of the declared state.
        await s.set({ inactiveWarm: "false" });
        await s.up();
        assert.strictEqual((await readClusterState(cluster.kubectl, namespace)).deployments["physioflow-api-blue"].replicas, 0);
    });

    it("a deploy stopped between steps (released, not switched; its lock abandoned) is resumed by the next one", async function () {
        this.timeout(3 * 60 * 1000);
        // What a deploy killed after its release step leaves: blue released warm, the lock not deleted.
        await s.set({ blueTag: "v4.0.0", inactiveWarm: "true" });
        await s.up();
        await cluster.kubectl(["create", "-f", "-"], lease("ops@laptop pid 99: deploy v4.0.0", 120));
        const lines: string[] = [];
        const result = await deploy(target, "v4.0.0", { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.ok(lines.includes("resuming a deploy of v4.0.0 that stopped before its end (release, switch, watch, finish left)"), lines.join("\n"));
        assert.deepStrictEqual(result.steps[0].changes, [], "the release was already done");
        const state = await live("blue");
        assert.strictEqual(state.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v4.0.0");
        assert.strictEqual(state.deployments["physioflow-api-green"].replicas, 0);
        await noLock();
    });

    it("an emergency rollback to a cold color brings it up through the stack, patches the live Services, then reconciles: no pending change, and a normal rollback flips back", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        const emergency = await rollback(target, { emergency: true, out: line => lines.push(line) });
        assert.strictEqual(emergency.ok, true, `${emergency.error}\n${lines.join("\n")}`);
        assert.ok(lines.includes("green has no ready pods (physioflow-api-green 0/0 ready, physioflow-web-green 0/0 ready): bringing it up through the stack first"), lines.join("\n"));
        assert.deepStrictEqual(emergency.steps.map(step => step.step), ["release", "switch", "rollback"]);
        await live("green");
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "the stack does not match the patched Services");
        await noLock();
        assert.deepStrictEqual(events(), ["emergency-rollback blue->green"]);

        // Warm now: an emergency rollback is the patch alone, then the stack catching up.
        const again = await rollback(target, { emergency: true });
        assert.strictEqual(again.ok, true, again.error);
        assert.deepStrictEqual(again.steps.map(step => step.step), ["switch", "rollback"]);
        assert.ok(again.patchMs !== undefined && again.patchMs > 0);
        await live("blue");
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);

        const normal = await rollback(target);
        assert.strictEqual(normal.ok, true, normal.error);
        assert.deepStrictEqual(normal.steps.map(step => step.step), ["switch"]);
        assert.deepStrictEqual(normal.steps[0].changes.filter(line => !/unchanged$/.test(line)).map(line => line.split(/\s+/).slice(0, 3).join(" ")), [
            "~ Service physioflow-api", "~ Service physioflow-api-preview", "~ Service physioflow-web", "~ Service physioflow-web-preview",
        ]);
        await live("green");
        await noLock();
        assert.deepStrictEqual(events(), ["emergency-rollback blue->green", "emergency-rollback green->blue", "rollback blue->green"]);
    });

    it("status shows the stack beside its cluster: nothing flagged after the rollbacks, a hand-patched Service flagged", async () => {
        const lines = formatStatus(await readStatus(target));
        assert.deepStrictEqual(lines.filter(line => line.startsWith("!")), [], lines.join("\n"));
        assert.ok(lines.includes("  active color   green in the config"), lines.join("\n"));
        assert.ok(lines.some(line => /^  live service   physioflow-api +selects green; 1 ready endpoint\(s\): green$/.test(line)), lines.join("\n"));
        assert.ok(lines.includes("  deploy         none in progress"));
        await cluster.kubectl(["patch", "service", "physioflow-web", "-n", namespace, "--type", "merge", "-p", '{"spec":{"selector":{"version":"blue"}}}']);
        try {
            const flagged = formatStatus(await readStatus(target)).filter(line => line.startsWith("!"));
            assert.deepStrictEqual(flagged.map(line => line.replace(/ready endpoint\(s\).*\(/, "… (")), ["! live service   physioflow-web         selects blue; 1 … (the config says green)"]);
        } finally {
            await cluster.kubectl(["patch", "service", "physioflow-web", "-n", namespace, "--type", "merge", "-p", '{"spec":{"selector":{"version":"green"}}}']);
        }
    });

    describe("with the stack's database (PostgreSQL), migrated by the deploy as local's is", () => {
        let dbTarget: ReleaseTarget;
        let migrationsDir: string;
        let backupDir: string;
        let connection: Awaited<ReturnType<typeof freshDatabase>>["connection"];
        before(async function () {
            this.timeout(2 * 60 * 1000);
            const db = await freshDatabase("deploy");
            connection = db.connection;
            const work = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-deploy-db-"));
            migrationsDir = path.join(work, "migrations");
            backupDir = path.join(work, "backups");
            fs.cpSync(path.join(__dirname, "../../migrations"), migrationsDir, { recursive: true });
            await migrateUp({ dir: migrationsDir, connection });
            // The stack records what the database is at (npm run local does the same).
            await s.set({ migrationTarget: "006" });
            await s.up();
            dbTarget = {
                ...target,
                database: { connection, migrationsDir, backupDir, environment: "local", migratesOutsideStack: true },
                useMigrationVersion: version => s.set({ migrationTarget: version }),
            };
        });

        it("a pending migration that would break the live color, or that the runner would refuse, stops the deploy before any backup or change", async () => {
            fs.writeFileSync(path.join(migrationsDir, "007_drop_patient_notes.sql"), "ALTER TABLE patients DROP COLUMN notes;\n");
            await assert.rejects(deploy(dbTarget, "v5.0.0", { watch }), (error: Error) => error instanceof DeployRefusedError &&
                /^the migrations would be refused: .*007_drop_patient_notes\.sql: has no down script; .*; nothing changed, no backup taken$/.test(error.message));
            fs.writeFileSync(path.join(migrationsDir, "rollback/007_down.sql"), "SELECT 1;\n");
            const before = await s.stack.getAllConfig();
            const lines: string[] = [];
            try {
                await assert.rejects(deploy(dbTarget, "v5.0.0", { watch, out: line => lines.push(line) }), (error: Error) =>
                    error instanceof DeployRefusedError && /^pending migration would break the live color: .*007_drop_patient_notes\.sql:1 \[ban-drop-column\] .*; nothing changed, no backup taken/.test(error.message));
                assert.ok(lines.some(line => /^migrations: FAIL +.*007_drop_patient_notes\.sql/.test(line)), lines.join("\n"));
                assert.deepStrictEqual(await s.stack.getAllConfig(), before);
                assert.strictEqual(fs.existsSync(backupDir) ? fs.readdirSync(backupDir).length : 0, 0, "no backup");
                assert.strictEqual(await currentMigrationVersion(connection), "006");
                await noLock();
            } finally {
                fs.rmSync(path.join(migrationsDir, "007_drop_patient_notes.sql"));
                fs.rmSync(path.join(migrationsDir, "rollback/007_down.sql"));
            }
        });

        it("a release with a pending migration: verified backup, migration, both colors smoke-tested at the new version, switch", async function () {
            this.timeout(3 * 60 * 1000);
            fs.cpSync(path.join(__dirname, "../../demo/migrations/007_demo_patient_release_note.sql"), path.join(migrationsDir, "007_demo_patient_release_note.sql"));
            fs.cpSync(path.join(__dirname, "../../demo/migrations/rollback/007_down.sql"), path.join(migrationsDir, "rollback/007_down.sql"));
            const lines: string[] = [];
            const result = await deploy(dbTarget, "v5.0.0", { watch, out: line => lines.push(line) });
            assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
            assert.ok(lines.includes("migrations: database at 006; 1 migration(s) pending to 007: 007_demo_patient_release_note.sql"), lines.join("\n"));
            const backups = fs.readdirSync(backupDir).filter(name => name.endsWith(".tar.gz"));
            assert.strictEqual(backups.length, 1, backups.join(", "));
            assert.match(backups[0], /pre-deploy-v5\.0\.0/);
            assert.deepStrictEqual({ ...result.migrations, backup: path.basename(result.migrations!.backup!) }, { from: "006", to: "007", pending: ["007"], backup: backups[0] });
            // The backup came first: before the migration line.
            const backupAt = lines.findIndex(line => /^  backup: /.test(line));
            const migratedAt = lines.findIndex(line => /^  migrate: applied .*007_demo_patient_release_note\.sql/.test(line));
            assert.ok(backupAt !== -1 && backupAt < migratedAt, lines.join("\n"));
            assert.strictEqual(await currentMigrationVersion(connection), "007");
            const state = await readClusterState(cluster.kubectl, namespace);
            assert.strictEqual((await cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version, "007");
            // The live color of the time (green) was smoke-tested again at 007 in the release step, before the switch; the new one too.
            const release = result.steps[0].changes.join("\n");
            for (const color of ["blue", "green"]) assert.match(release, new RegExp(`^\\S+ +Job +physioflow-smoke-${color}\\b`, "m"), release);
            assert.deepStrictEqual([state.jobs["physioflow-smoke-blue"]?.migrationVersion, state.jobs["physioflow-smoke-blue"]?.status], ["007", "succeeded"]);
            assert.strictEqual(state.services["physioflow-api"].selector.version, "blue");
            await noLock();
        });

        it("status shows the database's migration version beside the ConfigMap's and the stack's, and flags a database ahead of them", async () => {
            const lines = formatStatus(await readStatus(dbTarget));
            assert.ok(lines.includes("  migration      007 in the database, 007 in ConfigMap migration-version, 007 in the stack output"), lines.join("\n"));
            fs.writeFileSync(path.join(migrationsDir, "008_patient_flag.sql"), "ALTER TABLE patients ADD COLUMN flagged boolean;\n");
            fs.writeFileSync(path.join(migrationsDir, "rollback/008_down.sql"), "ALTER TABLE patients DROP COLUMN flagged;\n");
            await migrateUp({ dir: migrationsDir, connection });
            const flagged = formatStatus(await readStatus(dbTarget)).filter(line => line.startsWith("!"));
            assert.deepStrictEqual(flagged, ["! migration      008 in the database, 007 in ConfigMap migration-version, 007 in the stack output"]);
            assert.deepStrictEqual(formatStatus(await readStatus(target)).filter(line => line.startsWith("!")), [], "without a database the line is as before");
        });

        it("rollback --restore: verify, safety backup, API off the database, restore, then the color of the archive's tag goes live at the archive's version", async function () {
            this.timeout(3 * 60 * 1000);
            const archive = path.join(backupDir, fs.readdirSync(backupDir).find(name => /pre-deploy-v5\.0\.0.*\.tar\.gz$/.test(name))!);
            // Another environment's archive is refused before anything changes.
            const foreign = await restoreRollback({ ...dbTarget, database: { ...dbTarget.database!, environment: "prod" } }, archive);
            assert.strictEqual(foreign.ok, false);
            assert.match(foreign.error!, /is a backup of "local", not "prod"; nothing changed$/);
            assert.strictEqual(await currentMigrationVersion(connection), "008");
            await noLock();

            const lines: string[] = [];
            let apiPodsDuringRestore: Promise<number> | undefined;
            const result = await restoreRollback(dbTarget, archive, {
                out: line => {
                    lines.push(line);
                    if (line.startsWith("restore: ")) {
                        apiPodsDuringRestore = cluster.getJson(["pods", "-n", namespace, "-l", "app=physioflow-api"]).then(list => list.items.length);
                    }
                },
            });
            assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
            assert.deepStrictEqual(result.steps.map(step => step.step), ["verify", "backup", "restore", "switch"]);
            assert.deepStrictEqual([result.from, result.to, result.migrationVersion], ["blue", "green", "006"]);
            assert.ok(lines.includes("api: off the database (physioflow-api-blue 1 -> 0, physioflow-api-green 0 -> 0)"), lines.join("\n"));
            assert.strictEqual(await apiPodsDuringRestore, 0, "no API pod while the database was replaced");
            assert.strictEqual(await currentMigrationVersion(connection), "006");
            assert.match(path.basename(result.safetyBackup!), /pre-restore/);
            assert.ok(fs.existsSync(result.safetyBackup!));
            const state = await live("green");
            assert.strictEqual(state.deployments["physioflow-api-green"].image, "registry.local:5000/physioflow-api:v2.0.0");
            assert.strictEqual((await cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version, "006");
            assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "the stack matches the cluster after the scale down and back");
            assert.deepStrictEqual(events().slice(-1), ["restore-rollback blue->green"]);
            await noLock();
        });
    });

    describe("the watch's other signals: restarts of crash-looping pods, and the error rate from a real Prometheus", () => {
        const app = metricsServer(namespace);
        let prometheus: PrometheusServer;
        const errorRateQuery = `sum(rate(http_requests_total{namespace="${namespace}",code=~"5.."}[10s]))`;
        before(async function () {
            this.timeout(60_000);
            await new Promise<void>(resolve => app.server.listen(0, "127.0.0.1", resolve));
            app.setRate("200", 20);
            app.setRate("500", 0.2);
            prometheus = await startPrometheus({ targets: [{ job: "physioflow-api", url: app.url() }], intervalSeconds: 1 });
            await prometheus.waitForTarget(app.url());
        });
        after(async () => {
            await prometheus?.stop();
            app.server.close();
        });

        it("crash-looping new pods during the watch: their restarts roll the deploy back to the still-warm old color", async function () {
            this.timeout(3 * 60 * 1000);
            const lines: string[] = [];
            const result = await deploy(target, "v6.0.0", {
                watch: { seconds: 30, intervalMs: 300 },
                out: line => {
                    lines.push(line);
                    if (line.startsWith("watch: ")) {
                        void cluster.kubectl(["apply", "-f", "-"], crashLoopStage("test-blue-crashes", { version: "blue" }, { intervalMs: 500 }))
                            .then(() => cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "version=blue,app!=physioflow-smoke", "physioflow-test/crash=true"]));
                    }
                },
            });
            try {
                assert.strictEqual(result.ok, false, lines.join("\n"));
                assert.deepStrictEqual(result.steps.map(step => step.step), ["release", "switch", "watch", "rollback"]);
                assert.match(result.rolledBack!.reason, /^\d+ container restart\(s\) of blue's pods since the switch \(allowed: 0\)$/);
                const state = await live("green");
                for (const app of apps) assert.strictEqual(state.services[app].selector.version, "green");
                await noLock();
            } finally {
                await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-crashes"]);
            }
        });

        it("a watch that cannot read the error rate is refused before anything changes", async () => {
            await s.set({ prometheusUrl: "http://127.0.0.1:9/", errorRateQuery, errorRateThreshold: "1" });
            const before = await s.stack.getAllConfig();
            await assert.rejects(deploy(target, "v6.0.1", { watch }), (error: Error) => error instanceof DeployRefusedError &&
                /^the watch cannot read the error rate: Prometheus at http:\/\/127\.0\.0\.1:9\/ is unreachable: .*; nothing changed$/.test(error.message));
            assert.deepStrictEqual(await s.stack.getAllConfig(), before);
            await noLock();
        });

        it("an error rate above the threshold during the watch rolls back by itself, and says what Prometheus saw", async function () {
            this.timeout(3 * 60 * 1000);
            await s.set({ prometheusUrl: prometheus.url });
            const lines: string[] = [];
            const result = await deploy(target, "v6.0.1", {
                watch: { seconds: 60, intervalMs: 500 },
                out: line => {
                    lines.push(line);
                    // After the switch the new color answers 5xx: 20 a second.
                    if (line.startsWith("watch: ")) app.setRate("500", 20);
                },
            });
            app.setRate("500", 0.2);
            assert.strictEqual(result.ok, false, lines.join("\n"));
            assert.ok(lines.some(line => /^error rate: [\d.e-]+\/s now \(rolls back above 1\/s; query: /.test(line)), lines.join("\n"));
            assert.ok(lines.includes("watch: blue for 60 s: readiness and restarts, error rate"), lines.join("\n"));
            assert.deepStrictEqual(result.steps.map(step => step.step), ["release", "switch", "watch", "rollback"]);
            assert.match(result.rolledBack!.reason, /^error rate [\d.]+\/s above 1\/s \(query: sum\(rate\(http_requests_total/);
            await live("green");
            assert.deepStrictEqual(events().slice(-2), ["switch green->blue", "automatic-rollback blue->green"]);
            await noLock();
            await s.stack.removeAllConfig(["physioflow:prometheusUrl", "physioflow:errorRateQuery", "physioflow:errorRateThreshold"]);
        });
    });
});
