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
 * `change` measured under load ({@link measureChange}, 50 requests/s per sampler) against `url`
 * from inside the node; `change` may mark events on the load (they are the timeline's markers).
 */
export function measureInNode(
    node: RealNode,
    options: { loadBinary: string; url: string; phase: string },
    change: (load: LoadRun) => Promise<void>,
): Promise<{ report: LoadReport; figures: string }> {
    return measureChange({ binary: options.loadBinary, netns: nodeNetns(node), url: options.url, ratePerSecond: 50, phase: options.phase }, change);
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
