/**
 * The `physioflow` commands run in-process, the way tests call them: `main` of database/cli or
 * `releaseMain` of release/cli with captured streams instead of the process's.
 */
import { Readable, Writable } from "stream";

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
    const code = await command({ stdout: sink((text) => (stdout += text)), stderr: sink((text) => (stderr += text)), stdin });
    return { code, stdout, stderr };
}
