/**
 * The `physioflow` commands run the way tests call them: in-process (`main` of database/cli,
 * `releaseMain` of release/cli, or the bin script's dispatch) with captured streams instead of the
 * process's, or as the real `node bin/physioflow.js` child process.
 */
import { execFile } from "child_process";
import * as path from "path";
import { Readable, Writable } from "stream";
import type { ReleaseTarget } from "../../release/types";

const repoRoot = path.join(__dirname, "..", "..");

/** What a command run in-process wrote, and its exit code. */
export interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** The streams handed to a command: stdout and stderr captured, stdin as `typed` says. */
export interface CapturedStreams {
    stdout: Writable;
    stderr: Writable;
    stdin: Readable & { isTTY?: boolean };
}

/**
 * Runs `command` with captured streams. Without `typed` stdin is empty and not a terminal (as in CI);
 * with it, stdin is a terminal on which the operator types `typed` and Enter.
 */
export async function runInProcess(command: (streams: CapturedStreams) => Promise<number>, typed?: string): Promise<CliRun> {
    let stdout = "";
    let stderr = "";
    const sink = (append: (text: string) => void) =>
        new Writable({
            write(chunk, _encoding, done) {
                append(String(chunk));
                done();
            },
        });
    const stdin = Object.assign(Readable.from(typed === undefined ? [] : [`${typed}\n`]), { isTTY: typed !== undefined });
    const code = await command({ stdout: sink(text => (stdout += text)), stderr: sink(text => (stderr += text)), stdin });
    return { code, stdout, stderr };
}

/**
 * Runs the real CLI, `node bin/physioflow.js <args>`, as a child process with no terminal on stdin:
 * this process's environment without its database connection (PG*, DATABASE_URL), then `env`.
 */
export function runBinary(args: string[], env: Record<string, string> = {}, cwd = repoRoot): Promise<CliRun> {
    const base = { ...process.env };
    for (const key of ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "DATABASE_URL"]) {
        delete base[key];
    }
    return new Promise(resolve => {
        const child = execFile(
            "node",
            [path.join(repoRoot, "bin", "physioflow.js"), ...args],
            { cwd, env: { ...base, ...env }, timeout: 120_000 },
            (error, stdout, stderr) => {
                resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
            },
        );
        child.stdin?.end();
    });
}

/**
 * Runs a release command (`releaseMain`, e.g. `["deploy", "local", "v2.0.0"]`) in-process on
 * `target`, handed to it as the `local` stack, with captured streams and no terminal. `onLine`
 * sees each line of stderr as it is written: a test injects a fault at a step's first line.
 */
export async function runReleaseCommandOn(
    target: ReleaseTarget,
    argv: string[],
    onLine: (line: string) => void = () => undefined,
): Promise<CliRun & { lines: string[] }> {
    let stdout = "";
    let stderr = "";
    let partial = "";
    const lines: string[] = [];
    const stdoutSink = new Writable({
        write(chunk, _encoding, done) {
            stdout += String(chunk);
            done();
        },
    });
    const stderrSink = new Writable({
        write(chunk, _encoding, done) {
            stderr += String(chunk);
            const parts = (partial + String(chunk)).split("\n");
            partial = parts.pop()!;
            for (const line of parts) {
                lines.push(line);
                onLine(line);
            }
            done();
        },
    });
    const stdin = Object.assign(Readable.from([]), { isTTY: false });
    // Loaded here: the database commands' tests use this file too and need none of the release code.
    const { releaseMain } = await import("../../release/cli");
    const code = await releaseMain(argv, repoRoot, {
        stdout: stdoutSink,
        stderr: stderrSink,
        stdin,
        openLocalTarget: async () => ({ target, close: async () => undefined }),
    });
    if (partial) lines.push(partial);
    return { code, stdout, stderr, lines };
}
