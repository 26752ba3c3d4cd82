/** Running the harness's shell scripts (engine.sh, cluster.sh) with their progress shown as it comes. */
import { spawn } from "child_process";

/**
 * Runs `command args` to the end with no input; each complete stderr line goes to `onStderrLine`
 * as it arrives. Resolves with the exit status and everything printed.
 */
export function runWithProgress(
    command: string,
    args: readonly string[],
    onStderrLine: (line: string) => void,
): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let partial = "";
        child.stdout.on("data", chunk => {
            stdout += chunk;
        });
        child.stderr.on("data", chunk => {
            stderr += chunk;
            const lines = (partial + chunk).split("\n");
            partial = lines.pop() ?? "";
            lines.forEach(onStderrLine);
        });
        child.on("error", reject);
        child.on("close", status => resolve({ status: status ?? 1, stdout, stderr }));
    });
}
