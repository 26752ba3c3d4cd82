/**
 * The real node (scripts/node.sh, devenv/node.ts): real pods of the API stand-in's image, run by
 * kubelet, containerd and runc, made Ready by their readiness probe calling /health against the
 * tests' real PostgreSQL, reached through a real Service by kube-proxy's rules, from INSIDE the
 * node's network namespace; and a node's teardown leaving nothing behind.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as dns from "dns";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { Cluster } from "../../devenv/cluster";
import { RealNode, startNode } from "../../devenv/node";
import { standInApps } from "../../devenv/standInApps";
import { sharedNode } from "../support/sharedNode";
import { freshDatabase, TestDatabase } from "../support/postgres";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";

const namespace = suiteNamespace("real-node");
const API_IMAGE = "registry.local:5000/physioflow-api:v1.0.0";
const SMOKE_IMAGE = "registry.local:5000/physioflow-smoke:v1";

/** A Deployment of the API stand-in for `node` (its label, toleration and hostname), with a readiness probe on /health. */
function apiDeployment(name: string, node: RealNode, env: Record<string, string>, ns = namespace): string {
    const labels = { app: name };
    return JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: ns },
        spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    nodeSelector: { [node.label.key]: node.label.value, "kubernetes.io/hostname": node.name },
                    tolerations: [{ ...node.taint, operator: "Equal" }],
                    terminationGracePeriodSeconds: 5,
                    containers: [
                        {
                            name: "api",
                            image: API_IMAGE,
                            imagePullPolicy: "Never",
                            ports: [{ containerPort: 7011 }],
                            env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
                            readinessProbe: { httpGet: { path: "/health", port: 7011 }, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 1 },
                        },
                    ],
                },
            },
        },
    });
}

async function waitFor<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await read();
        if (check(value)) return value;
        if (Date.now() > deadline) assert.fail(`${what} not seen within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 2000)}`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
}

const ready = (pod: any) => pod.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
const running = (pod: any) => pod.status?.containerStatuses?.[0]?.state?.running !== undefined;
const podsOf = async (cluster: Cluster, name: string, ns = namespace) => (await cluster.getJson(["pods", "-n", ns, "-l", `app=${name}`])).items as any[];

/** True when `address` is in the IPv4 CIDR `cidr`. */
function inCidr(address: string, cidr: string): boolean {
    const toInt = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
    const [base, bits] = cidr.split("/");
    const mask = 2 ** 32 - 2 ** (32 - Number(bits));
    return (toInt(address) & mask) >>> 0 === (toInt(base) & mask) >>> 0;
}

describe("a real node beside the control plane (kubelet, containerd, kube-proxy in a namespace of their own)", function () {
    let cluster: Cluster;
    let node: RealNode;
    let db: TestDatabase;
    let admin: Client;
    let podEnv: Record<string, string>;
    const login = { user: `realnode_blue_${process.pid}`, password: crypto.randomBytes(12).toString("hex") };

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        [cluster, node, db] = await Promise.all([sharedCluster(), sharedNode(), freshDatabase("real_node")]);
        admin = await db.connect();
        await admin.query(`CREATE ROLE ${login.user} LOGIN PASSWORD '${login.password}'`);
        // PostgreSQL listens on the host's loopback: relayed into the node, the pods dial the node's IP.
        const [host, port] = (await node.relay(db.connection.port)).split(":");
        podEnv = {
            APP_COLOR: "blue",
            DATABASE_HOST: host,
            DATABASE_PORT: port,
            DATABASE_NAME: db.name,
            DATABASE_USER: login.user,
            POSTGRES_PASSWORD: login.password,
            DATABASE_SSLMODE: "disable",
        };
        await cluster.kubectl(["create", "namespace", namespace]);
    });
    after(async () => {
        await removeSuiteNamespace(cluster, namespace);
        await admin?.query(`DROP ROLE IF EXISTS ${login.user}`);
        await admin?.end();
    });

    it("runs the API stand-in's image for real: Ready through its readiness probe on /health, which reaches PostgreSQL", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], apiDeployment("api", node, podEnv));
        const [pod] = await waitFor(
            "the API pod Ready",
            () => podsOf(cluster, "api"),
            pods => pods.length === 1 && ready(pods[0]),
        );
        assert.strictEqual(pod.spec.nodeName, node.name);
        assert.ok(inCidr(pod.status.podIP, node.podCidr), `pod IP ${pod.status.podIP} is not in the node's ${node.podCidr}`);
        const container = pod.status.containerStatuses[0];
        assert.match(container.containerID, /^containerd:\/\/[0-9a-f]{64}$/, "run by containerd, not played by kwok");
        assert.strictEqual(container.image, API_IMAGE);

        // The same image with a wrong password: Running, never Ready; the probe's 503 is what kubelet saw.
        await cluster.kubectl(["apply", "-f", "-"], apiDeployment("api-wrong-password", node, { ...podEnv, POSTGRES_PASSWORD: "not-the-password" }));
        const events = await waitFor(
            "a failed readiness probe on the pod with the wrong password",
            async () => (await cluster.getJson(["events", "-n", namespace, "--field-selector", "reason=Unhealthy"])).items as any[],
            items => items.some(e => e.involvedObject.name.startsWith("api-wrong-password-") && /statuscode: 503/.test(e.message)),
        );
        assert.ok(events.length > 0);
        const [broken] = await podsOf(cluster, "api-wrong-password");
        assert.ok(running(broken) && !ready(broken), `the pod with the wrong password: ${JSON.stringify(broken.status)}`);
    });

    it("a Service in front of it answers a request made inside the node's namespace, through kube-proxy's rules", async function () {
        this.timeout(2 * 60 * 1000);
        await cluster.kubectl(
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: "api", namespace },
                spec: { selector: { app: "api" }, ports: [{ port: 80, targetPort: 7011 }] },
            }),
        );
        const service = await cluster.getJson(["service", "-n", namespace, "api"]);
        const clusterIp: string = service.spec.clusterIP;
        // kube-proxy has written the Service's rules in the node's namespace (and only there).
        await waitFor(
            "kube-proxy's rules for the Service",
            async () => (await node.exec(["iptables-save", "-t", "nat"])).stdout,
            rules => rules.includes(`-d ${clusterIp}/32`) && rules.includes("KUBE-SEP-"),
            30_000,
        );
        const answer = await waitFor(
            "an answer from the Service",
            () => node.exec(["curl", "-sS", "-m", "5", `http://${clusterIp}/version`]),
            result => result.status === 0,
            30_000,
        );
        assert.deepStrictEqual(JSON.parse(answer.stdout), { version: "v1.0.0", color: "blue", environment: "" });
    });

    it("cluster DNS (CoreDNS in the node): a pod resolves Services by name, in its namespace and as svc.namespace, and reaches them; a name outside the cluster is refused, never looked up elsewhere", async function () {
        this.timeout(2 * 60 * 1000);
        // The API pod of the tests above, behind a Service of another namespace too (no selector: an EndpointSlice naming the pod).
        const other = `${namespace}-dns`;
        const [apiPod] = await podsOf(cluster, "api");
        await cluster.kubectl(["create", "namespace", other]);
        try {
            await cluster.kubectl(
                ["apply", "-f", "-"],
                JSON.stringify({
                    apiVersion: "v1",
                    kind: "List",
                    items: [
                        {
                            apiVersion: "v1",
                            kind: "Service",
                            metadata: { name: "api-here", namespace: other },
                            spec: { ports: [{ port: 80, targetPort: 7011 }] },
                        },
                        {
                            apiVersion: "discovery.k8s.io/v1",
                            kind: "EndpointSlice",
                            metadata: { name: "api-here", namespace: other, labels: { "kubernetes.io/service-name": "api-here" } },
                            addressType: "IPv4",
                            ports: [{ port: 7011, protocol: "TCP" }],
                            endpoints: [{ addresses: [apiPod.status.podIP], conditions: { ready: true } }],
                        },
                    ],
                }),
            );
            const outside = outsideName();
            const hostResolves = await dns.promises.lookup(outside).then(
                () => true,
                () => false,
            );
            // Everything the pod saw, in its termination message: kubectl logs cannot reach the node's kubelet from the host.
            const script = [
                "exec >/dev/termination-log 2>&1",
                "echo \"resolv.conf: $(grep -v '^#' /etc/resolv.conf | tr '\\n' '|')\"",
                'echo "same namespace: $(curl -sS -m 5 http://api-here/version)"',
                `echo "svc.namespace: $(curl -sS -m 5 http://api.${namespace}/version)"`,
                `echo "fqdn: $(curl -sS -m 5 http://api.${namespace}.svc.cluster.local/version)"`,
                `said=$(curl -sS -m 5 http://${outside}/ 2>&1); echo "outside curl: $said; exit $?"`,
                `echo "outside nslookup: $(busybox nslookup ${outside}. 2>&1 | tr '\\n' '|')"`,
            ].join("\n");
            await cluster.kubectl(
                ["apply", "-f", "-"],
                JSON.stringify({
                    apiVersion: "v1",
                    kind: "Pod",
                    metadata: { name: "dns-check", namespace: other },
                    spec: {
                        nodeSelector: { [node.label.key]: node.label.value, "kubernetes.io/hostname": node.name },
                        tolerations: [{ ...node.taint, operator: "Equal" }],
                        restartPolicy: "Never",
                        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534 },
                        containers: [{ name: "check", image: SMOKE_IMAGE, imagePullPolicy: "Never", command: ["/bin/sh", "-c", script] }],
                    },
                }),
            );
            const [pod] = await waitFor(
                "the DNS check pod ended",
                async () => (await cluster.getJson(["pods", "-n", other, "--field-selector", "metadata.name=dns-check"])).items as any[],
                pods => pods.length === 1 && ["Succeeded", "Failed"].includes(pods[0].status?.phase),
            );
            assert.strictEqual(pod.spec.nodeName, node.name);
            const seen = Object.fromEntries(
                String(pod.status.containerStatuses[0].state.terminated.message)
                    .trim()
                    .split("\n")
                    .map(line => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
            );
            const version = { version: "v1.0.0", color: "blue", environment: "" };
            const answer = (what: string) => {
                try {
                    return JSON.parse(seen[what]);
                } catch {
                    return seen[what];
                }
            };
            // kubelet's clusterDNS: the node's CoreDNS only, with the pod's namespace first in the search list.
            assert.strictEqual(seen["resolv.conf"], `search ${other}.svc.cluster.local svc.cluster.local cluster.local|nameserver ${node.ip}|options ndots:5|`);
            for (const what of ["same namespace", "svc.namespace", "fqdn"]) assert.deepStrictEqual(answer(what), version, `${what}: ${seen[what]}`);
            assert.strictEqual(seen["outside curl"], `curl: (6) Could not resolve host: ${outside}; exit 6`);
            // CoreDNS answers at once that it serves no such zone (REFUSED): nothing is forwarded (no forward plugin is built in).
            assert.match(seen["outside nslookup"], /REFUSED/);
            assert.doesNotMatch(seen["outside nslookup"], /Address: (?!10\.250\.0\.1)/, "an address for the outside name");
            const plugins = corednsPlugins(node);
            // What the node's CoreDNS can do at all: no forward (nor any other way to ask a server outside), whatever its Corefile says.
            assert.deepStrictEqual(plugins, ["bind", "errors", "kubernetes", "log", "metadata", "ready", "transfer"]);
            process.stderr.write(
                `      outside name ${outside}: ${hostResolves ? "resolved by the host, refused in the pod" : "not resolved by the host either; refused in the pod"}\n`,
            );
        } finally {
            await cluster.kubectl(["delete", "namespace", other, "--wait=false"]);
        }
    });

    it("a pod that does not ask for the real node lands on kwok's node, never on the real one", async function () {
        this.timeout(60 * 1000);
        await cluster.kubectl(
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "Pod",
                metadata: { name: "kwok-only", namespace, labels: { app: "kwok-only" } },
                spec: { containers: [{ name: "app", image: "example.invalid/app:1" }] },
            }),
        );
        const [pod] = await waitFor(
            "the kwok pod Ready",
            () => podsOf(cluster, "kwok-only"),
            pods => pods.length === 1 && ready(pods[0]),
        );
        assert.notStrictEqual(pod.spec.nodeName, node.name);
        assert.ok(!inCidr(pod.status.podIP, node.podCidr), `kwok gave ${pod.status.podIP}, an address of the real node's pods`);
    });

    it("stop leaves no process, mount, cgroup, namespace or Node object behind (a second node, with a pod running)", async function () {
        this.timeout(4 * 60 * 1000);
        const apps = await standInApps();
        const other = await startNode(cluster, { imagesDir: apps.imagesDir, name: "physioflow-node-teardown" });
        let stopped = false;
        try {
            const ns = `${namespace}-teardown`;
            await cluster.kubectl(["create", "namespace", ns]);
            await cluster.kubectl(["apply", "-f", "-"], apiDeployment("api", other, { ...podEnv, POSTGRES_PASSWORD: "unused" }, ns));
            await waitFor(
                "the pod running on the second node",
                () => podsOf(cluster, "api", ns),
                pods => pods.length === 1 && running(pods[0]),
            );

            // What there is before: the holder of the namespaces, processes in the node's cgroups (a shim
            // and the container among them), mounts in its mount namespace, the Node object.
            const holder = Number(fs.readFileSync(path.join(other.dir, "pids", "holder"), "utf8"));
            const namespaces = ["net", "mnt"].map(kind => fs.readlinkSync(`/proc/${holder}/ns/${kind}`));
            const cgroups = fs.readFileSync(path.join(other.dir, "cgroups"), "utf8").trim().split("\n");
            const pids = cgroups.flatMap(processesIn);
            const commands = pids.map(pid => commandOf(pid));
            assert.ok(
                commands.some(c => c.includes("containerd-shim-runc-v2")),
                `no shim among ${commands.join("; ")}`,
            );
            assert.ok(
                commands.some(c => c.startsWith("/app/api")),
                `no container process among ${commands.join("; ")}`,
            );
            assert.ok(
                commands.some(c => c.includes("/kubelet")),
                "no kubelet in the node's cgroups",
            );
            assert.ok(
                commands.some(c => c.includes("/coredns -conf")),
                "no CoreDNS in the node's cgroups",
            );
            assert.match(fs.readFileSync(`/proc/${holder}/mountinfo`, "utf8"), /overlay/, "no container rootfs mounted in the node's mount namespace");
            await cluster.getJson(["node", other.name]);

            await other.stop();
            stopped = true;

            const alive = pids.filter(pid => commandOf(pid) !== "" && !isZombie(pid));
            assert.deepStrictEqual(alive, [], "processes of the node still running");
            assert.deepStrictEqual(
                cgroups.filter(dir => fs.existsSync(dir)),
                [],
                "cgroups of the node still there",
            );
            const inNamespaces = allPids().filter(pid => ["net", "mnt"].some((kind, i) => readlink(`/proc/${pid}/ns/${kind}`) === namespaces[i]));
            assert.deepStrictEqual(inNamespaces, [], "processes still in the node's namespaces");
            assert.deepStrictEqual(
                allPids().filter(pid => commandOf(pid).includes(other.dir)),
                [],
                "processes naming the node's directory",
            );
            assert.ok(!fs.readFileSync("/proc/self/mountinfo", "utf8").includes(other.dir), "a mount of the node's directory on the host");
            assert.ok(!fs.existsSync(other.dir), "the node's directory is still there");
            await assert.rejects(cluster.kubectl(["get", "node", other.name]), /NotFound|not found/);
            await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
        } finally {
            if (!stopped) await other.stop();
        }
    });
});

describe("scripts/node.sh's refusals (one line naming the step)", function () {
    const script = path.resolve(__dirname, "..", "..", "scripts", "node.sh");
    const run = (...args: string[]) => spawnSync("bash", [script, ...args], { encoding: "utf8" });

    it("start without a running cluster, and an unknown command, fail in one line naming the step", () => {
        const lastLine = (stderr: string) => stderr.trim().split("\n").pop();
        const noCluster = run("start", "/nonexistent/physioflow-cluster");
        assert.strictEqual(noCluster.status, 1);
        assert.strictEqual(
            lastLine(noCluster.stderr),
            'node.sh: error: step "start" failed: no cluster runs in /nonexistent/physioflow-cluster (start one with scripts/cluster.sh start)',
        );
        const unknown = run("restart");
        assert.strictEqual(unknown.status, 1);
        assert.strictEqual(lastLine(unknown.stderr), `node.sh: error: step "arguments" failed: unknown command 'restart' (try --help)`);
    });
});

/** A name the host's own resolver answers: the npm registry's, which `npm ci` reached (read at run time, not written here). */
function outsideName(): string {
    const registry = process.env.npm_config_registry ?? spawnSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).stdout.trim();
    return new URL(registry).hostname;
}

/** The plugins built into the node's running CoreDNS (`coredns -plugins`). */
function corednsPlugins(node: RealNode): string[] {
    const pid = fs.readFileSync(path.join(node.dir, "pids", "coredns"), "utf8").trim();
    const exe = fs.readlinkSync(`/proc/${pid}/exe`);
    const listed = spawnSync(exe, ["-plugins"], { encoding: "utf8" });
    assert.strictEqual(listed.status, 0, listed.stderr);
    return listed.stdout
        .split("\n")
        .map(line => line.trim())
        .filter(line => line !== "");
}

function processesIn(cgroup: string): number[] {
    if (!fs.existsSync(cgroup)) return [];
    const found: number[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (entry.isDirectory()) walk(path.join(dir, entry.name));
            else if (entry.name === "cgroup.procs") found.push(...fs.readFileSync(path.join(dir, entry.name), "utf8").split("\n").filter(Boolean).map(Number));
        }
    };
    walk(cgroup);
    return [...new Set(found)];
}

function commandOf(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    } catch {
        return "";
    }
}

function isZombie(pid: number): boolean {
    try {
        return /^\d+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return true;
    }
}

function readlink(file: string): string {
    try {
        return fs.readlinkSync(file);
    } catch {
        return "";
    }
}

function allPids(): number[] {
    return fs
        .readdirSync("/proc")
        .filter(name => /^\d+$/.test(name))
        .map(Number)
        .filter(pid => pid !== process.pid);
}
