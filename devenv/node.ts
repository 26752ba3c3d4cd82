/**
 * A real Kubernetes node beside the control plane of devenv/cluster.ts: kubelet, kube-proxy,
 * containerd, runc and the CNI plugins in a network and mount namespace of their own, so real pods
 * run the stand-in images and real packets cross real Services (scripts/node.sh; docs/node.md).
 *
 * Nothing here dials a pod or Service IP from the host's network: `exec` runs a command inside the
 * node's namespace, and the host's loopback servers the pods need (the API server, PostgreSQL) are
 * relayed in. A node started here is stopped by `stop()`, when this process exits, and, should this
 * process be killed outright, by the watchdog node.sh leaves beside it.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Cluster } from "./cluster";
import { runWithProgress } from "./processes";

const script = path.resolve(__dirname, "..", "scripts", "node.sh");

export interface RealNode {
    /** The node's directory: configs, containerd's and kubelet's data, logs, node.env. */
    dir: string;
    /** The Node object's name. */
    name: string;
    /** The node's address inside its namespace: pods reach relayed ports there. */
    ip: string;
    /** The label (`key=value`) only this node has; a pod for it selects it and tolerates `taint`. */
    label: { key: string; value: string };
    /** The node's NoSchedule taint (same key and value as the label): kwok-only pods never land here. */
    taint: { key: string; value: string; effect: "NoSchedule" };
    /** The pod addresses of this node (apart from kwok's). */
    podCidr: string;
    /**
     * Runs `command` inside the node's network namespace (never the host's) to its end; resolves
     * with its exit status and output, and rejects only when it cannot be started.
     */
    exec(command: readonly string[], options?: { timeoutMs?: number }): Promise<{ status: number; stdout: string; stderr: string }>;
    /** Relays the host's 127.0.0.1:`port` into the node's namespace; resolves to the `host:port` pods dial. */
    relay(port: number): Promise<string>;
    /** Imports image archives (docker save's format, e.g. scripts/apps.sh's pack) into the node's containerd: pods with `imagePullPolicy: Never` run them. */
    importImages(archives: readonly string[]): Promise<void>;
    /** Stops every process of the node, removes its cgroups, namespaces and directory, and deletes the Node object. */
    stop(): Promise<void>;
}

/**
 * Builds what is missing (progress lines through `progress`) and starts a node joined to `cluster`,
 * with every image archive in `imagesDir` (scripts/apps.sh's images/, which holds the pod sandbox's
 * image too) imported. Throws one line naming what failed; never returns a node that is not Ready.
 */
export async function startNode(cluster: Cluster, options: { imagesDir: string; name?: string; progress?: (line: string) => void }): Promise<RealNode> {
    const progress = options.progress ?? (() => undefined);
    await runScript(["build"], progress);
    const startArgs = ["start", "--owner", String(process.pid), "--images", options.imagesDir];
    if (options.name !== undefined) startArgs.push("--name", options.name);
    const out = await runScript([...startArgs, cluster.dir], progress);
    const dir = out.trim().split("\n").pop()!;
    const env = readEnv(path.join(dir, "node.env"));

    let stopped = false;
    const stopNow = () => {
        if (stopped) return;
        stopped = true;
        process.removeListener("exit", stopNow);
        spawnSync("bash", [script, "stop", dir], { stdio: "ignore" });
    };
    // Before the control plane's own exit handler (devenv/cluster.ts), so the Node object is deleted while the API server is up.
    process.prependListener("exit", stopNow);

    const [labelKey, labelValue] = env.NODE_LABEL.split("=");
    return {
        dir,
        name: env.NODE_NAME,
        ip: env.NODE_IP,
        label: { key: labelKey, value: labelValue },
        taint: { key: labelKey, value: labelValue, effect: "NoSchedule" },
        podCidr: env.NODE_POD_CIDR,
        exec: (command, { timeoutMs = 30_000 } = {}) => execIn(dir, command, timeoutMs),
        relay: async port => (await runScript(["relay", dir, String(port)], progress)).trim().split("\n").pop()!,
        importImages: async archives => void (await runScript(["import", dir, ...archives], progress)),
        stop: async () => {
            if (stopped) return;
            stopped = true;
            process.removeListener("exit", stopNow);
            await runScript(["stop", dir], progress);
        },
    };
}

function execIn(dir: string, command: readonly string[], timeoutMs: number): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [script, "exec", dir, ...command], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", chunk => (stdout += chunk));
        child.stderr.on("data", chunk => (stderr += chunk));
        child.on("error", error => {
            clearTimeout(timer);
            reject(error);
        });
        child.on("close", status => {
            clearTimeout(timer);
            resolve({ status: status ?? 1, stdout, stderr });
        });
    });
}

function readEnv(file: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
    }
    return env;
}

/** Runs `bash scripts/node.sh ARGS`; stdout is the result, stderr's progress lines go to `progress`. */
async function runScript(args: string[], progress: (line: string) => void): Promise<string> {
    const { status, stdout, stderr } = await runWithProgress("bash", [script, ...args], line => {
        if (line.startsWith("[node]")) progress(line.replace(/^\[node\] /, ""));
    });
    if (status === 0) return stdout;
    const last = stderr.trim().split("\n").pop() ?? "";
    throw new Error(`the real node is not available: ${last || `scripts/node.sh ${args[0]} exited with ${status}`}; see docs/node.md`);
}
