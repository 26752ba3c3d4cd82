/**
 * The load generator (devenv/apps/load, docs/traffic.md) as a process: started against one URL,
 * optionally inside a network namespace (`nsenter --net=PATH`), told where phases start and what
 * happened when, and stopped for its report.
 */
import { ChildProcess, spawn } from "child_process";

export const failureKinds = ["refused", "reset", "timeout", "5xx", "other"] as const;
export type FailureKind = (typeof failureKinds)[number];
export const samplerNames = ["fresh", "pooled"] as const;
export type SamplerName = (typeof samplerNames)[number];

/** What one sampler saw in a phase (or the whole run). Latencies are of the answered requests; null when none was. */
export interface SamplerFigures {
    requests: number;
    ok: number;
    failed: number;
    failures: Record<FailureKind, number>;
    /** Requests the keep-alive client sent again on a new connection (a reused one closed before any answer); not failures. */
    retried: number;
    p50Ms: number | null;
    p99Ms: number | null;
    maxMs: number | null;
    /** The first failure of each kind, as the client saw it. */
    examples?: Partial<Record<FailureKind, string>>;
}

/** A moment on the run's clock (ms since it started). */
export interface LoadMark {
    name: string;
    atMs: number;
}

/** One step of a series: the requests that ended (were answered or failed) in [startMs, startMs + intervalMs), how they failed, the p99 of those answered. */
export interface LoadStep {
    startMs: number;
    requests: number;
    failures: Record<FailureKind, number>;
    p99Ms: number | null;
}

/** The load generator's report (its JSON). */
export interface LoadReport {
    url: string;
    ratePerSecond: number;
    timeoutMs: number;
    intervalMs: number;
    pool: number;
    startedAt: string;
    durationMs: number;
    stoppedBy: string;
    phases: { name: string; startMs: number; endMs: number; samplers: Record<SamplerName, SamplerFigures> }[];
    events: LoadMark[];
    totals: Record<SamplerName, SamplerFigures>;
    series: Record<SamplerName, LoadStep[]>;
}

export interface LoadOptions {
    /** The load generator's binary (`standInApps().bin.load`). */
    binary: string;
    /** The http:// URL to request. */
    url: string;
    /** Requests per second, per sampler. Default 50. */
    ratePerSecond?: number;
    /** A request not answered within it is a timeout. Default 1000. */
    timeoutMs?: number;
    /** Width of one step of the series. Default 100. */
    intervalMs?: number;
    /** Connections in the keep-alive pool; more than rate x latency, or requests queue for one. Default 8. */
    pool?: number;
    /** It stops by itself after this long. Default 600000 (10 min). */
    maxDurationMs?: number;
    /** Name of the first phase. Default "start". */
    phase?: string;
    /** Run inside the network namespace at this path (`nsenter --net=PATH`), e.g. /run/netns/NAME. Default: this one. */
    netns?: string;
}

/** A running load generator. */
export interface LoadRun {
    /** Starts phase `name` now (a request counts in the phase in force when it ends); resolves with its time on the run's clock once the generator has it. */
    phase(name: string): Promise<number>;
    /** Marks event `name` now (a marker on the timeline); resolves with its time on the run's clock. */
    event(name: string): Promise<number>;
    /**
     * The pooled sampler leaves its connections and opens new ones from its next request on (a
     * client that reconnected now); marked as the event `pooled reconnects`. Resolves with its time.
     */
    reconnect(): Promise<number>;
    /** Stops sending, waits for the requests in flight and resolves with the report. */
    stop(): Promise<LoadReport>;
    /** As stop, by SIGTERM. */
    terminate(): Promise<LoadReport>;
    /** Everything it printed on standard error. */
    log(): string;
    child: ChildProcess;
}

const ms = (value: number) => `${Math.round(value)}ms`;

/** The command line that runs the generator with `options` (under nsenter when `netns` is given). */
export function loadCommand(options: LoadOptions): { command: string; args: string[] } {
    const args = [
        `--url=${options.url}`,
        `--rate=${options.ratePerSecond ?? 50}`,
        `--timeout=${ms(options.timeoutMs ?? 1000)}`,
        `--interval=${ms(options.intervalMs ?? 100)}`,
        `--pool=${options.pool ?? 8}`,
        `--max-duration=${ms(options.maxDurationMs ?? 600000)}`,
        `--phase=${options.phase ?? "start"}`,
    ];
    if (options.netns === undefined) return { command: options.binary, args };
    return { command: "nsenter", args: [`--net=${options.netns}`, "--", options.binary, ...args] };
}

/** Starts the load generator; resolves once it sends (rejects with its one-line error when it cannot start). */
export async function startLoad(options: LoadOptions): Promise<LoadRun> {
    const { command, args } = loadCommand(options);
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    const waiting: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void; reject: (error: Error) => void }[] = [];
    const exited = new Promise<number | null>(resolve => child.on("close", code => resolve(code)));
    const failure = (what: string) => new Error(`the load generator ${what}: ${lastLine(stderr) || "no message"}`);
    child.stdout.on("data", chunk => (stdout += chunk));
    child.stderr.on("data", chunk => {
        stderr += chunk;
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
            if (/^load: error:/.test(line)) waiting.splice(0).forEach(w => w.reject(new Error(`the load generator: ${line.replace(/^load: /, "")}`)));
            const at = waiting.findIndex(w => w.pattern.test(line));
            if (at >= 0) {
                const [waiter] = waiting.splice(at, 1);
                waiter.resolve(line.match(waiter.pattern)!);
            }
        }
    });
    child.on("error", error => waiting.splice(0).forEach(w => w.reject(error)));
    // Writing to one that has exited: its exit says why.
    child.stdin.on("error", () => undefined);
    void exited.then(code => waiting.splice(0).forEach(w => w.reject(failure(`exited (${code})`))));
    const expect = (pattern: RegExp) => new Promise<RegExpMatchArray>((resolve, reject) => waiting.push({ pattern, resolve, reject }));

    await expect(/^load: running: /);
    /** Writes the control line `line`; resolves with the time in its acknowledgement, `load: <line> at <ms> ms`. */
    const send = async (line: string) => {
        const acknowledged = expect(new RegExp(`^load: ${escape(line)} at (\\d+) ms$`));
        child.stdin.write(`${line}\n`);
        return Number((await acknowledged)[1]);
    };
    const mark = async (verb: "phase" | "event", name: string) => {
        if (!/^[^\s]+( [^\s]+)*$/.test(name)) throw new Error(`a ${verb} name is words on one line, not ${JSON.stringify(name)}`);
        return send(`${verb} ${name}`);
    };
    const report = async (ask: () => void) => {
        ask();
        const code = await exited;
        if (code !== 0) throw failure(`exited (${code})`);
        return JSON.parse(stdout) as LoadReport;
    };
    return {
        phase: name => mark("phase", name),
        event: name => mark("event", name),
        reconnect: () => send("reconnect"),
        stop: () => report(() => child.stdin.end("stop\n")),
        terminate: () => report(() => child.kill("SIGTERM")),
        log: () => stderr,
        child,
    };
}

function escape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function lastLine(text: string): string {
    return text.trim().split("\n").pop() ?? "";
}

/** What a phase's figures come to in one line, e.g. `switch blue→green: 4,812 requests, 0 failed, p99 38 ms (fresh: ...; pooled: ...)`. */
export function describePhase(report: LoadReport, name: string): string {
    const phase = report.phases.find(p => p.name === name);
    if (!phase) throw new Error(`the load report has no phase "${name}"; phases: ${report.phases.map(p => p.name).join(", ")}`);
    const both = samplerNames.map(sampler => phase.samplers[sampler]);
    const requests = both.reduce((sum, f) => sum + f.requests, 0);
    const failed = both.reduce((sum, f) => sum + f.failed, 0);
    const p99 = Math.max(...both.map(f => f.p99Ms ?? 0));
    const kinds = failureKinds
        .map(kind => [kind, both.reduce((sum, f) => sum + f.failures[kind], 0)] as const)
        .filter(([, count]) => count > 0)
        .map(([kind, count]) => `${kind} ${count.toLocaleString("en-US")}`);
    return (
        `${name}: ${requests.toLocaleString("en-US")} requests, ${failed.toLocaleString("en-US")} failed` +
        (kinds.length ? ` (${kinds.join(", ")})` : "") +
        `, p99 ${p99 < 10 ? p99.toFixed(1) : Math.round(p99)} ms`
    );
}

/** What {@link measureChange} needs besides the generator's own options. */
export interface MeasuredChangeOptions extends LoadOptions {
    /** The change's phase, e.g. `switch blue→green`; the run starts in phase `before` and ends in phase `after`. */
    phase: string;
    /** Traffic before the change, so the picture and the figures have a baseline. Default 1000 ms. */
    leadMs?: number;
    /** Traffic after it: connections pinned to pods the change stopped end with them. Default 1000 ms. */
    tailMs?: number;
}

/**
 * Runs `change` under load: the generator started in phase `before`, `leadMs` later phase
 * `phase` for as long as `change` runs (which may mark events on `load`), then `tailMs` in phase
 * `after`; resolves with the report and the change's figures in one line ({@link describePhase}).
 * When `change` throws, the generator is stopped and the error passed on.
 */
export async function measureChange(
    options: MeasuredChangeOptions,
    change: (load: LoadRun) => Promise<void>,
): Promise<{ report: LoadReport; figures: string }> {
    const load = await startLoad({ ...options, phase: "before" });
    const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
    try {
        await pause(options.leadMs ?? 1000);
        await load.phase(options.phase);
        await change(load);
        await load.phase("after");
        await pause(options.tailMs ?? 1000);
    } catch (error) {
        await load.stop().catch(() => undefined);
        throw error;
    }
    const report = await load.stop();
    return { report, figures: describePhase(report, options.phase) };
}
