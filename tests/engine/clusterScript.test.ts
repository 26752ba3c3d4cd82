/** scripts/cluster.sh: refusals are one line naming the step, and no server outlives the process it was started for. */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startCluster } from "../../devenv/cluster";

const script = path.resolve(__dirname, "..", "..", "scripts", "cluster.sh");

describe("scripts/cluster.sh start and stop", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-cluster-script-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const run = (args: string[]) =>
        spawnSync("bash", [script, ...args], {
            encoding: "utf8",
            env: { ...process.env, PHYSIOFLOW_CACHE: path.join(dir, "empty-cache") },
        });
    const lastLine = (text: string) => text.trim().split("\n").pop();

    it("start without the built binaries fails at once with a line that says how to build them, and starts nothing", () => {
        const result = run(["start", path.join(dir, "cluster")]);
        assert.strictEqual(result.status, 1);
        assert.match(
            lastLine(result.stderr)!,
            /^cluster\.sh: error: step "start" failed: .*\/bin\/etcd is missing: run 'npm run cluster -- build' \(or npm run setup\) first$/,
        );
        assert.ok(!fs.existsSync(path.join(dir, "cluster", "pids")));
    });

    it("unknown commands and a stop without a directory are refused; stopping where nothing runs is a no-op", () => {
        assert.match(lastLine(run(["launch"]).stderr)!, /^cluster\.sh: error: step "arguments" failed: unknown command 'launch'/);
        const stop = run(["stop"]);
        assert.strictEqual(stop.status, 1);
        assert.match(lastLine(stop.stderr)!, /stop needs the cluster's directory/);
        const idle = run(["stop", dir]);
        assert.strictEqual(idle.status, 0);
        assert.match(idle.stderr, /no cluster running in/);
        assert.ok(fs.existsSync(dir), "stop deleted a directory that held no cluster");
    });

    it("a cluster started for an owner process is stopped, every server, when that process is killed", async function () {
        this.timeout(30 * 60 * 1000); // builds the control plane first when it is missing
        assert.strictEqual(spawnSync("bash", [script, "build"], { stdio: "ignore" }).status, 0, "cluster.sh build failed");
        const owner = spawn("sleep", ["600"], { stdio: "ignore" });
        const started = spawnSync("bash", [script, "start", "--owner", String(owner.pid)], { encoding: "utf8" });
        assert.strictEqual(started.status, 0, started.stderr);
        const clusterDir = started.stdout.trim();
        const pids = fs.readdirSync(path.join(clusterDir, "pids")).map(name => Number(fs.readFileSync(path.join(clusterDir, "pids", name), "utf8")));
        assert.strictEqual(pids.length, 6, "etcd, kube-apiserver, controller-manager, scheduler, kwok and the watchdog");
        owner.kill("SIGKILL");
        const deadline = Date.now() + 30_000;
        while (pids.some(running) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 250));
        assert.deepStrictEqual(pids.filter(running), [], "servers still running after their owner was killed");
        assert.ok(!fs.existsSync(clusterDir), "the temp cluster directory was left behind");
    });

    it("a cluster started again from its kept data plays new pods at once: the new kwok holds the node's Lease", async function () {
        this.timeout(30 * 60 * 1000); // builds the control plane first when it is missing
        const clusterDir = path.join(dir, "kept");
        const deployment = (replicas: number) =>
            JSON.stringify({
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "d", namespace: "default" },
                spec: {
                    replicas,
                    selector: { matchLabels: { app: "d" } },
                    template: { metadata: { labels: { app: "d" } }, spec: { containers: [{ name: "c", image: "example:1" }] } },
                },
            });
        let cluster = await startCluster({ dir: clusterDir });
        try {
            await cluster.kubectl(["apply", "-f", "-"], deployment(1));
            await cluster.kubectl(["rollout", "status", "deployment/d", "--timeout=20s"]);
            await cluster.kubectl(["scale", "deployment/d", "--replicas=0"]);
        } finally {
            await cluster.stop({ keep: true });
        }
        const restarted = Math.floor(Date.now() / 1000) * 1000;
        cluster = await startCluster({ dir: clusterDir });
        try {
            // The old kwok's Lease would block the new one for its 40 s duration; no pod plays until then.
            const lease = await cluster.getJson(["lease", "-n", "kube-node-lease", "kwok-node-0"]);
            assert.ok(
                Date.parse(lease.metadata.creationTimestamp) >= restarted,
                `the node Lease is from before the restart: ${lease.metadata.creationTimestamp}`,
            );
            await cluster.kubectl(["scale", "deployment/d", "--replicas=1"]);
            await cluster.kubectl(["rollout", "status", "deployment/d", "--timeout=20s"]);
        } finally {
            await cluster.stop();
        }
    });
});

/** Alive and not a zombie. */
function running(pid: number): boolean {
    try {
        return !/^\d+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}
