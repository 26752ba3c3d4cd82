/**
 * Watches one Service's EndpointSlices through the API server's watch stream (HTTPS on
 * 127.0.0.1, the admin kubeconfig's certificates): the moment traffic has moved is seen when the
 * API server reports it, not at the next poll. `npm run bench:switch` times switches with it; the
 * tests' sampler (tests/support/clusterFaults.ts) records every state it reports.
 */
import * as fs from "fs";
import * as https from "https";
import * as yaml from "js-yaml";
import type { EndpointSlice } from "../release/kubernetesObjects";

/** The ready endpoints of a Service: pod name -> color (from the pod name `<app>-<color>-<hash>-<id>`). */
export type ReadyEndpoints = Map<string, string>;

export interface EndpointWatch {
    /** Resolves with `Date.now()` at the first event after which `done(ready)` holds (at once if it holds already). */
    until(done: (ready: ReadyEndpoints) => boolean, timeoutMs?: number): Promise<number>;
    close(): void;
}

/** The admin kubeconfig of devenv/cluster.ts: its one cluster and one user, with embedded certificates. */
interface AdminKubeconfig {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
}

/** One line of the API server's watch stream. */
interface WatchEvent {
    /** `ADDED`, `MODIFIED`, `DELETED` (or `ERROR`, `BOOKMARK`). */
    type: string;
    object: EndpointSlice;
}

/**
 * Opens the watch of `service`'s EndpointSlices. `onChange`, when given, is called with the ready
 * endpoints after every event the API server sends (the first ones are the slices as they are).
 */
export async function watchEndpoints(
    kubeconfigPath: string,
    namespace: string,
    service: string,
    onChange?: (ready: ReadyEndpoints, at: number) => void,
): Promise<EndpointWatch> {
    const config = yaml.load(fs.readFileSync(kubeconfigPath, "utf8")) as AdminKubeconfig;
    const server = new URL(config.clusters[0].cluster.server);
    const user = config.users[0].user;
    const tls = {
        ca: Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64"),
        cert: Buffer.from(user["client-certificate-data"], "base64"),
        key: Buffer.from(user["client-key-data"], "base64"),
    };
    const slices = new Map<string | undefined, EndpointSlice>();
    let waiters: { done: (ready: ReadyEndpoints) => boolean; resolve: (at: number) => void }[] = [];
    const ready = (): ReadyEndpoints => {
        const result: ReadyEndpoints = new Map();
        for (const slice of slices.values()) {
            for (const endpoint of slice.endpoints ?? []) {
                const pod = endpoint.targetRef?.name ?? "";
                if (endpoint.conditions?.ready === true) result.set(pod, /-(blue|green)-[a-z0-9]+-[a-z0-9]+$/.exec(pod)?.[1] ?? "?");
            }
        }
        return result;
    };
    const check = () => {
        const now = Date.now();
        const current = ready();
        onChange?.(current, now);
        waiters = waiters.filter(w => (w.done(current) ? (w.resolve(now), false) : true));
    };

    const selector = encodeURIComponent(`kubernetes.io/service-name=${service}`);
    let opened: () => void;
    const isOpen = new Promise<void>(resolve => {
        opened = resolve;
    });
    const request = https.get(
        {
            host: server.hostname,
            port: server.port,
            ...tls,
            path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?watch=1&labelSelector=${selector}&allowWatchBookmarks=false`,
        },
        response => {
            let buffer = "";
            response.setEncoding("utf8");
            response.on("data", chunk => {
                buffer += chunk;
                let newline: number;
                while ((newline = buffer.indexOf("\n")) >= 0) {
                    const line = buffer.slice(0, newline);
                    buffer = buffer.slice(newline + 1);
                    if (!line.trim()) continue;
                    const event = JSON.parse(line) as WatchEvent;
                    const name = event.object?.metadata?.name;
                    if (event.type === "DELETED") slices.delete(name);
                    else if (event.type === "ADDED" || event.type === "MODIFIED") slices.set(name, event.object);
                    check();
                }
            });
            opened();
        },
    );
    request.on("error", () => undefined);
    await isOpen;
    // The watch starts with an ADDED event per existing slice; give them a moment to arrive.
    await new Promise(resolve => setTimeout(resolve, 300));

    return {
        until: (done, timeoutMs = 60_000) =>
            new Promise<number>((resolve, reject) => {
                const timer = setTimeout(
                    () => reject(new Error(`the endpoints of ${service} did not reach the expected state in ${timeoutMs / 1000}s`)),
                    timeoutMs,
                );
                waiters.push({
                    done,
                    resolve: at => {
                        clearTimeout(timer);
                        resolve(at);
                    },
                });
                check();
            }),
        close: () => request.destroy(),
    };
}

/** True when every ready endpoint is of `color`, and there are `count` of them. */
export function onlyColor(color: string, count: number): (ready: ReadyEndpoints) => boolean {
    return ready => ready.size === count && [...ready.values()].every(c => c === color);
}
