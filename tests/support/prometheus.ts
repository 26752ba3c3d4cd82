/**
 * A real Prometheus (Debian's `prometheus` package, installed by `npm run setup`) for the tests
 * (only they use it): its own temp config and TSDB, its web API on a free 127.0.0.1 port, scraping
 * only loopback targets, or, inside a real node's network namespace, that node's pods
 * ({@link startPrometheusInNetns}). Stopped by `stop()` or when this process exits; its files go with it.
 * A missing binary fails saying to run `npm run setup`; it never skips.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freeLoopbackPort } from "../../devenv/freePorts";

const defaultBinary = "/usr/bin/prometheus";

/** Something Prometheus scrapes. */
export interface ScrapeTarget {
    /** Its `job` label. */
    job: string;
    /** Its metrics URL, on 127.0.0.1 or localhost, e.g. `http://127.0.0.1:8080/metrics`. */
    url: string;
}

export interface PrometheusOptions {
    /** What to scrape. Default: nothing. */
    targets?: ScrapeTarget[];
    /** `scrape_interval` and `evaluation_interval`, in seconds. Default 1. */
    intervalSeconds?: number;
}

export interface PrometheusServer {
    /** Its base URL, `http://127.0.0.1:<port>`. */
    url: string;
    /** Its temp dir: `prometheus.yml`, `data/`, `prometheus.log`. */
    dir: string;
    /** Resolves once Prometheus has scraped `targetUrl` successfully (health "up"); throws one line after `timeoutMs` (default 30000). */
    waitForTarget(targetUrl: string, timeoutMs?: number): Promise<void>;
    /** Stops it (SIGTERM, then SIGKILL after 5 s) and deletes its dir. Safe to call twice. */
    stop(): Promise<void>;
}

/** The Prometheus binary (`PHYSIOFLOW_PROMETHEUS_BIN`, else /usr/bin/prometheus), or an error saying how to install it. */
export function findPrometheusBinary(): string {
    const binary = process.env.PHYSIOFLOW_PROMETHEUS_BIN || defaultBinary;
    if (!fs.existsSync(binary)) {
        throw new Error(`Prometheus is not installed (no ${binary}): run "npm run setup" (as root it installs Debian's prometheus package)`);
    }
    return binary;
}

/** Starts a Prometheus and resolves once it is ready (`/-/ready`); throws one line with the log's tail when it is not. */
export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
    const scrapeConfigs = (options.targets ?? []).map(target => {
        const url = new URL(target.url);
        if (!["127.0.0.1", "localhost"].includes(url.hostname)) {
            throw new Error(`the test Prometheus scrapes loopback only; ${target.url} is not on 127.0.0.1`);
        }
        return {
            job_name: target.job,
            scheme: url.protocol.replace(/:$/, ""),
            metrics_path: url.pathname,
            static_configs: [{ targets: [url.host] }],
        };
    });
    return launchPrometheus(
        () => scrapeConfigs,
        options.intervalSeconds ?? 1,
        async () => {
            const port = await freeLoopbackPort();
            return { listen: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, prefix: [], relays: [] };
        },
    );
}

/** A group of targets of {@link startPrometheusInNetns}: `host:port` addresses and the labels their series get. */
export interface TargetGroup {
    targets: string[];
    labels: Record<string, string>;
}

/**
 * A Prometheus inside the network namespace at `netns` (`/proc/PID/ns/net`: a real node's, docs/node.md),
 * scraping what `discover` lists as job `job`: e.g. a namespace's pods at their pod IPs, which only that
 * namespace can reach. Debian's Prometheus is built without Kubernetes service discovery, so this is
 * file-based discovery: `discover` is called every `intervalSeconds` and the file rewritten (atomically)
 * when its answer changes; Prometheus reads it on change. Its HTTP API is relayed to the host's
 * loopback through a Unix socket (two socat, as scripts/node.sh's relays in the other direction), so
 * `url` is `http://127.0.0.1:<port>` and nothing on the host dials a pod. Stopped (with its relays
 * and the discovery loop) by `stop()` or when this process exits.
 */
export async function startPrometheusInNetns(
    netns: string,
    job: string,
    discover: () => Promise<TargetGroup[]>,
    intervalSeconds = 1,
): Promise<PrometheusServer> {
    let targetsFile = "";
    let written = "";
    let timer: NodeJS.Timeout | undefined;
    const refresh = async () => {
        const text = JSON.stringify(await discover().catch(() => JSON.parse(written || "[]") as TargetGroup[]));
        if (text === written || !targetsFile) return;
        fs.writeFileSync(`${targetsFile}.partial`, text);
        fs.renameSync(`${targetsFile}.partial`, targetsFile);
        written = text;
    };
    const server = await launchPrometheus(
        dir => {
            targetsFile = path.join(dir, "targets.json");
            fs.writeFileSync(targetsFile, "[]");
            return [{ job_name: job, file_sd_configs: [{ files: [targetsFile], refresh_interval: `${intervalSeconds}s` }] }];
        },
        intervalSeconds,
        async dir => {
            // Its own loopback: ports of the host are not taken there; one the node uses is retried (address in use).
            const inside = 20000 + Math.floor(Math.random() * 10000);
            const hostPort = await freeLoopbackPort();
            const socket = path.join(dir, "api.sock");
            return {
                listen: `127.0.0.1:${inside}`,
                url: `http://127.0.0.1:${hostPort}`,
                prefix: ["nsenter", `--net=${netns}`, "--"],
                relays: [
                    ["nsenter", `--net=${netns}`, "--", "socat", `UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${inside}`],
                    ["socat", `TCP-LISTEN:${hostPort},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${socket}`],
                ],
            };
        },
    );
    const loop = async () => {
        await refresh().catch(() => undefined);
        timer = setTimeout(() => void loop(), intervalSeconds * 1000);
    };
    await loop();
    const stopLoop = () => clearTimeout(timer);
    process.once("exit", stopLoop);
    return {
        ...server,
        stop: async () => {
            stopLoop();
            targetsFile = "";
            await server.stop();
        },
    };
}

/** Where a Prometheus listens and how it is started: `prefix` before its binary, `relays` started beside it (its API's way to `url`). */
interface Placement {
    listen: string;
    url: string;
    prefix: string[];
    relays: string[][];
}

async function launchPrometheus(
    scrapeConfigsIn: (dir: string) => object[],
    intervalSeconds: number,
    place: (dir: string) => Promise<Placement>,
): Promise<PrometheusServer> {
    const binary = findPrometheusBinary();
    const interval = `${intervalSeconds}s`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-prometheus-"));
    const scrapeConfigs = scrapeConfigsIn(dir);
    const configFile = path.join(dir, "prometheus.yml");
    // JSON is YAML: no YAML writer needed.
    fs.writeFileSync(
        configFile,
        JSON.stringify(
            { global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval }, scrape_configs: scrapeConfigs },
            null,
            2,
        ),
    );
    const logFile = path.join(dir, "prometheus.log");

    let child: ChildProcess | undefined;
    let relays: ChildProcess[] = [];
    let exited = false;
    let stopped = false;
    const killRelays = () => {
        for (const relay of relays) if (relay.exitCode === null && relay.signalCode === null) relay.kill("SIGKILL");
        relays = [];
    };
    const stopSync = () => {
        if (stopped) return;
        stopped = true;
        process.removeListener("exit", stopSync);
        if (child?.pid && !exited) {
            try {
                process.kill(child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        killRelays();
        fs.rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", stopSync);

    try {
        // A port taken between the pick and Prometheus's bind: try again with another.
        for (let attempt = 1; ; attempt++) {
            const placement = await place(dir);
            const { url } = placement;
            const log = fs.openSync(logFile, "a");
            const command = [
                ...placement.prefix,
                binary,
                `--config.file=${configFile}`,
                `--storage.tsdb.path=${path.join(dir, "data")}`,
                `--web.listen-address=${placement.listen}`,
                "--storage.tsdb.retention.time=1d",
            ];
            child = spawn(command[0], command.slice(1), { stdio: ["ignore", log, log], cwd: dir });
            relays = placement.relays.map(relay => spawn(relay[0], relay.slice(1), { stdio: ["ignore", log, log] }));
            fs.closeSync(log);
            exited = false;
            const thisChild = child;
            thisChild.once("exit", () => {
                if (child === thisChild) exited = true;
            });
            const ready = await waitUntilReady(url, () => exited);
            if (ready) return server(url);
            killRelays();
            if (!exited || attempt >= 3 || !/address already in use/.test(readTail(logFile))) {
                throw new Error(`Prometheus did not become ready on ${url} (${exited ? "it exited" : "30 s"}): ${lastLogLine(logFile)}`);
            }
        }
    } catch (error) {
        stopSync();
        throw error;
    }

    function server(url: string): PrometheusServer {
        return {
            url,
            dir,
            waitForTarget: (targetUrl, timeoutMs = 30_000) => waitForTarget(url, targetUrl, timeoutMs),
            stop: async () => {
                if (stopped) return;
                if (child?.pid && !exited) {
                    child.kill("SIGTERM");
                    const deadline = Date.now() + 5000;
                    while (!exited && Date.now() < deadline) await sleep(50);
                }
                stopSync();
            },
        };
    }
}

/** Polls `/-/ready` until it answers 200 (true), the process exits or 30 s pass (false). */
async function waitUntilReady(url: string, hasExited: () => boolean): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !hasExited()) {
        try {
            const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
            await response.arrayBuffer();
            if (response.ok) return true;
        } catch {
            // not listening yet
        }
        await sleep(100);
    }
    return false;
}

async function waitForTarget(prometheusUrl: string, targetUrl: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen = "not among its active targets";
    for (;;) {
        const body = await (await fetch(`${prometheusUrl}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2000) })).json();
        const target = ((body?.data?.activeTargets ?? []) as any[]).find(t => t.scrapeUrl === targetUrl);
        if (target?.health === "up") return;
        if (target) seen = `health ${target.health}${target.lastError ? `: ${target.lastError}` : ""}`;
        if (Date.now() >= deadline) throw new Error(`Prometheus did not scrape ${targetUrl} within ${timeoutMs / 1000} s (${seen})`);
        await sleep(200);
    }
}

function readTail(file: string): string {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").slice(-4000) : "";
}

/** The last error-ish line of Prometheus's log (its lines are logfmt: `level=error msg=...`). */
function lastLogLine(file: string): string {
    const lines = readTail(file).trim().split("\n");
    return lines.reverse().find(line => /level=(error|fatal)|err=/.test(line)) ?? lines[0] ?? "no log";
}

function sleep(ms: number): Promise<void> {
    return new Promise(resolve => setTimeout(resolve, ms));
}
