/**
 * The real node (devenv/node.ts) as `npm run local` and the demo use it: started beside their
 * control plane with the stand-in images imported, and the requests that show its pods serving,
 * made from inside its network namespace as the network rule of docs/node.md requires: one GET of
 * a Service (curl), and a change measured under the load generator (devenv/loadGenerator.ts) with
 * its timeline picture (devenv/trafficTimeline.ts) written to a file.
 */
import * as fs from "fs";
import * as path from "path";
import { Cluster } from "./cluster";
import { Kubectl, kubectlGet } from "./kubectl";
import { LoadReport, LoadRun, measureChange } from "./loadGenerator";
import { RealNode, startNode } from "./node";
import { standInApps } from "./standInApps";
import { switchTimelineSvg } from "./trafficTimeline";

/** Why a real node cannot start on this machine, in a few words; undefined when it can try. */
export function realNodeUnavailable(): string | undefined {
    // node.sh refuses too, but only after the control plane has started: say it before anything runs.
    if (process.getuid !== undefined && process.getuid() !== 0) return "it needs root (network and mount namespaces, cgroups, mounts), and this runs as a user";
    return undefined;
}

/** A real node joined to `cluster`, with the stand-in images imported, and the load generator's binary to measure it with. */
export async function startNodeWithStandIns(cluster: Cluster, progress: (line: string) => void): Promise<{ node: RealNode; loadBinary: string }> {
    const apps = await standInApps(progress);
    const node = await startNode(cluster, { imagesDir: apps.imagesDir, progress });
    return { node, loadBinary: apps.bin.load };
}

/** The node's network namespace as a path for `nsenter --net=` (its holder process's). */
export function nodeNetns(node: RealNode): string {
    return `/proc/${fs.readFileSync(path.join(node.dir, "pids", "holder"), "utf8").trim()}/ns/net`;
}

/** `http://<cluster IP>:<port><urlPath>` of a Service: an address only the node's namespace may dial. */
export async function serviceUrl(kubectl: Kubectl, namespace: string, service: string, port: number, urlPath: string): Promise<string> {
    const object = await kubectlGet<{ spec: { clusterIP: string } }>(kubectl, ["service", "-n", namespace, service]);
    return `http://${object.spec.clusterIP}:${port}${urlPath}`;
}

/** One GET of `url` from inside the node (curl, 5 s at most): the HTTP status and body, or why no answer came. */
export async function getInNode(node: RealNode, url: string): Promise<{ status: number; body: string } | { error: string }> {
    const marker = "\nphysioflow-http-status:";
    const result = await node.exec(["curl", "-sS", "-m", "5", "-w", `${marker}%{http_code}`, url], { timeoutMs: 10_000 });
    const at = result.stdout.lastIndexOf(marker);
    if (result.status !== 0 || at < 0) return { error: result.stderr.trim().split("\n").pop() || `curl exited with ${result.status}` };
    return { status: Number(result.stdout.slice(at + marker.length).trim()), body: result.stdout.slice(0, at).trim() };
}

/** A pod as the node runs it: where, whether Ready, and its first container's runtime id (`containerd://…` on a real node). */
export interface NodePod {
    name: string;
    nodeName: string;
    ready: boolean;
    containerId: string;
}

/** The pods of `namespace` matching `selector` (a label selector) that are not being deleted. */
export async function podsIn(kubectl: Kubectl, namespace: string, selector: string): Promise<NodePod[]> {
    interface PodList {
        items: {
            metadata: { name: string; deletionTimestamp?: string };
            spec: { nodeName?: string };
            status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { containerID?: string }[] };
        }[];
    }
    const pods = await kubectlGet<PodList>(kubectl, ["pods", "-n", namespace, "-l", selector]);
    return pods.items
        .filter(pod => pod.metadata.deletionTimestamp === undefined)
        .map(pod => ({
            name: pod.metadata.name,
            nodeName: pod.spec.nodeName ?? "",
            ready: pod.status?.conditions?.some(c => c.type === "Ready" && c.status === "True") ?? false,
            containerId: pod.status?.containerStatuses?.[0]?.containerID ?? "",
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `change` measured under load ({@link measureChange}, 50 requests/s per sampler, 2 s timeout)
 * against `url` from inside the node, after deleting the node's flows to `url`'s host left by
 * earlier measurements ({@link forgetFlowsTo}); `change` may mark events on the load (they are the
 * timeline's markers).
 */
export async function measureInNode(
    node: RealNode,
    options: { loadBinary: string; url: string; phase: string },
    change: (load: LoadRun) => Promise<void>,
): Promise<{ report: LoadReport; figures: string }> {
    await forgetFlowsTo(node, new URL(options.url).hostname);
    // 2 s: a new connection whose first SYN is lost once is sent again by the kernel after 1 s, slow but not dropped (docs/traffic.md).
    return measureChange(
        { binary: options.loadBinary, netns: nodeNetns(node), url: options.url, ratePerSecond: 50, timeoutMs: 2000, phase: options.phase },
        change,
    );
}

/**
 * Deletes the node's conntrack entries of TCP flows to `ip` (a Service's cluster IP), so that a
 * measurement starts with none left by an earlier one; resolves to how many there were, and how
 * many of them were unanswered connections (`SYN_SENT`: the ones that do harm).
 *
 * Why (docs/traffic.md, "New connections sent to a pod that is gone"): a SYN sent to a pod whose
 * network is already gone while kube-proxy's rules still name it leaves an entry (SYN_SENT, kept
 * 120 s, renewed by every retry) that sends the next connection from the same source port to that
 * pod again; the load generator's fresh sampler reuses its ports within seconds, so an earlier
 * measurement's broken phase (the negative control, a restore's API off) failed later ones. The
 * rest (TIME_WAIT and the like) is harmless and goes too. Nothing else sends to `ip` between
 * measurements, so no live connection loses its entry. The counts leave out entries that ended by
 * themselves while conntrack deleted the others.
 */
export async function forgetFlowsTo(node: RealNode, ip: string): Promise<{ deleted: number; unanswered: number }> {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new Error(`forgetFlowsTo: ${JSON.stringify(ip)} is not an IPv4 address`);
    const remove = async (filter: string[]): Promise<number> => {
        // An entry that ends by itself between conntrack's listing and its delete (a TIME_WAIT running
        // out) fails that delete and the run: gone as wanted, so the run is repeated for the rest.
        for (let attempt = 1; ; attempt++) {
            const result = await node.exec(["conntrack", "-D", "-p", "tcp", "--orig-dst", ip, ...filter]);
            const vanished = result.stderr.includes("such conntrack doesn't exist");
            if (vanished && attempt < 5) continue;
            // conntrack says how many it deleted, and exits 1 when that is none.
            const deleted = /(\d+) flow entries have been deleted/.exec(result.stderr);
            if (!deleted || (result.status !== 0 && deleted[1] !== "0")) {
                throw new Error(
                    `could not delete the node's conntrack entries to ${ip}: ${result.stderr.trim().split("\n").pop() || `conntrack exited with ${result.status}`}`,
                );
            }
            return Number(deleted[1]);
        }
    };
    const unanswered = await remove(["--state", "SYN_SENT"]);
    return { deleted: unanswered + (await remove([])), unanswered };
}

/**
 * Writes the timeline of `report`'s phase `phase` as `dir/<name>.svg` (`name` default: the phase,
 * e.g. `switch-blue-green`), and the report beside it as `dir/<name>.json` (every step, phase and
 * event, to look into what the picture shows); returns the picture's path.
 */
export function writeTimeline(dir: string, report: LoadReport, phase: string, name?: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const base = path.join(dir, name ?? fileName(phase));
    fs.writeFileSync(`${base}.svg`, switchTimelineSvg(report, { title: phase }));
    fs.writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 1)}\n`);
    return `${base}.svg`;
}

/** `switch blue→green` → `switch-blue-green`. */
export function fileName(text: string): string {
    return (
        text
            .toLowerCase()
            .replace(/[^a-z0-9.]+/g, "-")
            .replace(/^-+|-+$/g, "") || "change"
    );
}
