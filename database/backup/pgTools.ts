import { execFile, spawn } from "child_process";
import { existsSync, readdirSync } from "fs";
import * as path from "path";
import { PassThrough, Readable, Writable } from "stream";
import { OperationError } from "../errors";

/** A PostgreSQL client program found on this machine. */
export interface PgTool {
    /** Absolute path, or the bare name when found on PATH. */
    path: string;
    /** `--version` output, e.g. "pg_dump (PostgreSQL) 15.18". */
    version: string;
    /** Major version, e.g. 15. */
    major: number;
}

export type PgToolName = "pg_dump" | "pg_restore" | "psql";

/**
 * Finds `name` at least as new as `minMajor` (pg_dump cannot dump a newer
 * server; pg_restore cannot read a newer dump). Looks in PG_BIN_DIR, then in
 * /usr/lib/postgresql/<major>/bin preferring exactly `minMajor`, then on PATH.
 */
export async function findPgTool(name: PgToolName, minMajor = 0, env: NodeJS.ProcessEnv = process.env): Promise<PgTool> {
    const candidates: string[] = [];
    if (env.PG_BIN_DIR) {
        candidates.push(path.join(env.PG_BIN_DIR, name));
    }
    const majors = listInstalledMajors();
    const preferred = [...majors.filter(m => m === minMajor), ...majors.filter(m => m > minMajor).sort((a, b) => a - b)];
    candidates.push(...preferred.map(m => `/usr/lib/postgresql/${m}/bin/${name}`));
    candidates.push(name);
    let tooOld: PgTool | undefined;
    for (const candidate of candidates) {
        if (candidate.includes("/") && !existsSync(candidate)) {
            continue;
        }
        const tool = await probe(candidate);
        if (!tool) {
            continue;
        }
        if (tool.major >= minMajor) {
            return tool;
        }
        tooOld ??= tool;
    }
    if (tooOld) {
        throw new OperationError(
            `${tooOld.path} is version ${tooOld.major} but PostgreSQL ${minMajor} needs ${name} ${minMajor} or newer; install postgresql-client-${minMajor} or set PG_BIN_DIR`,
        );
    }
    throw new OperationError(`${name} not found; install the PostgreSQL client (apt-get install postgresql-client) or set PG_BIN_DIR`);
}

/** What a finished child process printed. */
export interface ToolOutput {
    stdout: string;
    stderr: string;
}

/** How to wire a child process. */
export interface RunToolOptions {
    /** Environment (carries PGPASSWORD; never put credentials in `args`). */
    env: NodeJS.ProcessEnv;
    /** Feed this to stdin. */
    stdin?: Readable;
    /** Send stdout here instead of capturing it. */
    stdout?: Writable;
}

/** A PostgreSQL program started by {@link startTool}. */
export interface StartedTool {
    /** The program's stdin (a program that exits early makes writes fail; they are ignored). */
    stdin: Writable;
    /** The program's stdout, when `stdout: "stream"` was asked for. */
    stdout: Readable;
    /** Resolves with its output when it exits 0; rejects with one line naming it and its last error otherwise. */
    done: Promise<ToolOutput>;
    /** Stops it (SIGKILL); `done` then rejects. */
    kill: () => void;
}

/**
 * Runs a PostgreSQL program; resolves with its output, rejects with one line
 * naming the program and its last error message.
 */
export function runTool(tool: PgTool, args: readonly string[], options: RunToolOptions): Promise<ToolOutput> {
    const started = startTool(tool, args, { env: options.env, stdout: options.stdout ? "stream" : "capture" });
    if (options.stdout) {
        started.stdout.pipe(options.stdout, { end: false });
    }
    if (options.stdin) {
        options.stdin.pipe(started.stdin);
    } else {
        started.stdin.end();
    }
    return started.done;
}

/**
 * Starts a PostgreSQL program with its stdin open to the caller (and its stdout as a stream when
 * asked: `stdout: "stream"`, else captured into `done`'s result).
 */
export function startTool(tool: PgTool, args: readonly string[], options: { env: NodeJS.ProcessEnv; stdout?: "capture" | "stream" }): StartedTool {
    const child = spawn(tool.path, args, { env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    if (options.stdout !== "stream") {
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    }
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.stdin.on("error", () => undefined); // the child exiting early is reported through its exit code
    const done = new Promise<ToolOutput>((resolve, reject) => {
        child.on("error", error => reject(new OperationError(`could not run ${tool.path}: ${error.message}`)));
        child.on("close", (code, signal) => {
            if (code === 0) {
                resolve({ stdout, stderr });
                return;
            }
            reject(new OperationError(`${path.basename(tool.path)} failed (${signal ?? `exit ${code}`}): ${lastErrorLine(stderr) || "no error message"}`));
        });
    });
    done.catch(() => undefined); // awaited by the caller; a killed helper's failure is expected
    // Consumed from the start: node resumes (and so drops) a child's stdout nobody reads once the child exits,
    // which a small dump's pg_restore does before its reader is attached.
    const stdoutStream = options.stdout === "stream" ? child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 })) : child.stdout;
    return { stdin: child.stdin, stdout: stdoutStream, done, kill: () => void child.kill("SIGKILL") };
}

/** The last line of a PostgreSQL program's stderr that reads as an error, without the program's name. */
function lastErrorLine(stderr: string): string {
    const lastError = stderr
        .split("\n")
        .map(l => l.trim())
        .filter(l => l !== "")
        .filter(l => /error|fatal|could not|invalid|does not exist/i.test(l))
        .pop();
    return (lastError ?? stderr.trim().split("\n").pop() ?? "").replace(/^\S+:\s*(error:\s*)?/i, "");
}

function listInstalledMajors(): number[] {
    try {
        return readdirSync("/usr/lib/postgresql")
            .filter(name => /^\d+$/.test(name))
            .map(Number)
            .sort((a, b) => b - a);
    } catch {
        return [];
    }
}

/** `--version` answers by path, once per process: a verify or restore would otherwise start each tool one more time. */
const probed = new Map<string, Promise<PgTool | undefined>>();

function probe(candidate: string): Promise<PgTool | undefined> {
    const key = candidate.includes("/") ? candidate : `${candidate} on ${process.env.PATH ?? ""}`;
    let answer = probed.get(key);
    if (answer === undefined) {
        answer = probeOnce(candidate);
        probed.set(key, answer);
    }
    return answer;
}

function probeOnce(candidate: string): Promise<PgTool | undefined> {
    return new Promise(resolve => {
        execFile(candidate, ["--version"], { encoding: "utf8" }, (error, stdout) => {
            const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout ?? "");
            if (error || !match) {
                resolve(undefined);
                return;
            }
            resolve({ path: candidate, version: stdout.trim(), major: Number(match[1]) });
        });
    });
}
