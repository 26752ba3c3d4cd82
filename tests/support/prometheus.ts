/**
 * A real Prometheus (Debian's `prometheus` package, installed by `npm run setup`) for the tests
 * (only they use it): its own temp config and TSDB, its web API on a free 127.0.0.1 port, scraping
 * only loopback targets. Stopped by `stop()` or when this process exits; its files go with it.
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
    const binary = findPrometheusBinary();
    const interval = `${options.intervalSeconds ?? 1}s`;
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
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-prometheus-"));
    const configFile = path.join(dir, "prometheus.yml");
    // JSON is YAML: no YAML writer needed.
    fs.writeFileSync(
        configFile,
        JSON.stringify(
            {
                global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
                scrape_configs: scrapeConfigs,
            },
            null,
            2,
        ),
    );
    const logFile = path.join(dir, "prometheus.log");

    let child: ChildProcess | undefined;
    let exited = false;
    let stopped = false;
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
        fs.rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", stopSync);

    try {
        // A port taken between the pick and Prometheus's bind: try again with another.
        for (let attempt = 1; ; attempt++) {
            const port = await freeLoopbackPort();
            const url = `http://127.0.0.1:${port}`;
            const log = fs.openSync(logFile, "a");
            child = spawn(
                binary,
                [
                    `--config.file=${configFile}`,
                    `--storage.tsdb.path=${path.join(dir, "data")}`,
                    `--web.listen-address=127.0.0.1:${port}`,
                    "--storage.tsdb.retention.time=1d",
                ],
                { stdio: ["ignore", log, log], cwd: dir },
            );
            fs.closeSync(log);
            exited = false;
            const thisChild = child;
            thisChild.once("exit", () => {
                if (child === thisChild) exited = true;
            });
            const ready = await waitUntilReady(url, () => exited);
            if (ready) return server(url);
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
