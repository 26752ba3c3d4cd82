/**
 * A real Kubernetes control plane for the tests and `npm run local`: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler, with kwok simulating the node and its pods
 * (scripts/cluster.sh builds and starts them; docs/cluster.md). Everything listens on 127.0.0.1.
 *
 * A cluster started here is stopped by `stop()`, when this process exits, and, should this
 * process be killed outright, by the watchdog cluster.sh leaves beside it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { kubectlCommand, kubectlGet } from "./kubectl";
import { runWithProgress } from "./processes";

const script = path.resolve(__dirname, "..", "scripts", "cluster.sh");

export interface Cluster {
    /** The cluster's directory: PKI, data, logs. */
    dir: string;
    /** Path of its admin kubeconfig. */
    kubeconfigPath: string;
    /** Directory of etcd, the Kubernetes servers, kubectl and kwok. */
    binDir: string;
    /** Runs kubectl against this cluster; resolves to stdout, rejects with kubectl's error line. A closure: pass it on as it is. */
    kubectl: (args: readonly string[], input?: string) => Promise<string>;
    /**
     * `kubectl get -o json`, parsed, untyped: the engine tests read whatever object they assert on
     * through it. The product reads typed objects (`kubectlGet` of devenv/kubectl.ts).
     */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests' reader of any object (32 reads in tests/engine/); it belongs in tests/support/
    getJson(args: readonly string[]): Promise<any>;
    /** Stops the servers; deletes the directory unless `keep` (data kept for the next start). */
    stop(options?: { keep?: boolean }): Promise<void>;
}

/**
 * Builds what is missing (progress lines through `progress`; about 20 minutes from empty caches)
 * and starts a cluster in `dir` (a new temp dir by default; an existing one is started again with
 * its data). Throws one line naming what failed; never returns a cluster that is not ready.
 */
export async function startCluster(options: { dir?: string; progress?: (line: string) => void } = {}): Promise<Cluster> {
    const progress = options.progress ?? (() => undefined);
    const binDir = (await runScript(["build"], progress)).trim().split("\n").pop()!;
    const startArgs = ["start", "--owner", String(process.pid)];
    if (options.dir !== undefined) startArgs.push(options.dir);
    const dir = (await runScript(startArgs, progress)).trim().split("\n").pop()!;
    const kubeconfigPath = path.join(dir, "kubeconfig");

    let stopped = false;
    const stopNow = (keep: boolean) => {
        if (stopped) return;
        stopped = true;
        process.removeListener("exit", onExit);
        spawnSync("bash", [script, "stop", ...(keep ? ["--keep"] : []), dir], { stdio: "ignore" });
    };
    const onExit = () => stopNow(options.dir !== undefined);
    process.on("exit", onExit);

    const kubectl = kubectlFor(binDir, kubeconfigPath);
    return {
        dir,
        kubeconfigPath,
        binDir,
        kubectl,
        getJson: args => kubectlGet(kubectl, args),
        stop: async ({ keep = false } = {}) => stopNow(keep),
    };
}

/**
 * The cluster another process started in `dir` and still runs (its kube-apiserver alive), for a
 * command that must not start a second one there: its `stop()` does nothing, the cluster stays
 * its owner's (and is stopped when its owner ends). Undefined when none runs in `dir`.
 */
export async function attachCluster(dir: string, options: { progress?: (line: string) => void } = {}): Promise<Cluster | undefined> {
    if (!clusterServingIn(dir)) return undefined;
    const binDir = (await runScript(["build"], options.progress ?? (() => undefined))).trim().split("\n").pop()!;
    const kubeconfigPath = path.join(path.resolve(dir), "kubeconfig");
    const kubectl = kubectlFor(binDir, kubeconfigPath);
    return {
        dir: path.resolve(dir),
        kubeconfigPath,
        binDir,
        kubectl,
        getJson: args => kubectlGet(kubectl, args),
        stop: async () => undefined,
    };
}

/** True when `dir` holds a cluster whose kube-apiserver runs now (not merely a pid file left by a killed run). */
export function clusterServingIn(dir: string): boolean {
    let pid: number;
    try {
        pid = Number(fs.readFileSync(path.join(dir, "pids", "kube-apiserver"), "utf8").trim());
    } catch {
        return false;
    }
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        // A zombie waiting to be reaped counts as gone (as cluster.sh's `running`).
        return !/^\d+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}

/** Runs this control plane's kubectl with `kubeconfigPath` (devenv/kubectl.ts). */
export function kubectlFor(binDir: string, kubeconfigPath: string): Cluster["kubectl"] {
    return kubectlCommand({ binary: path.join(binDir, "kubectl"), kubeconfig: kubeconfigPath });
}

/** Runs `bash scripts/cluster.sh ARGS`; stdout is the result, stderr's progress lines go to `progress`. */
async function runScript(args: string[], progress: (line: string) => void): Promise<string> {
    const { status, stdout, stderr } = await runWithProgress("bash", [script, ...args], line => {
        if (line.startsWith("[cluster]")) progress(line.replace(/^\[cluster\] /, ""));
    });
    if (status === 0) return stdout;
    const last = stderr.trim().split("\n").pop() ?? "";
    throw new Error(`the Kubernetes control plane is not available: ${last || `scripts/cluster.sh ${args[0]} exited with ${status}`}; see docs/cluster.md`);
}

/** True when `dir` holds a cluster whose servers were started and not stopped. */
export function clusterRunningIn(dir: string): boolean {
    return fs.existsSync(path.join(dir, "pids", "kube-apiserver"));
}

/** Stops a cluster left running in `dir` (data kept); nothing when none runs there. */
export function stopClusterIn(dir: string): void {
    if (clusterRunningIn(dir)) spawnSync("bash", [script, "stop", "--keep", dir], { stdio: "ignore" });
}
