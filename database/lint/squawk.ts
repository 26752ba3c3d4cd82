import { execFile } from "child_process";
import * as os from "os";
import * as path from "path";
import { OperationError } from "../errors";
import { SquawkFinding } from "./rules";

/**
 * Path of the squawk binary shipped in the `@squawk-cli/<platform>` npm package
 * (installed as an optional dependency of `squawk-cli`; no download step).
 */
export function squawkBinaryPath(): string {
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded here, not imported, so that a missing platform binary becomes the one-line error below
        const squawk = require("squawk-cli/js/index.js") as { getBinaryPath(): string };
        return squawk.getBinaryPath();
    } catch (error) {
        throw new OperationError(
            `the squawk linter binary is not installed (${(error as Error).message.split("\n")[0]}); run "npm ci" with optional dependencies enabled`,
        );
    }
}

/**
 * Runs squawk over `files` and returns its findings with 1-based lines.
 * `assumeInTransaction` tells squawk the files run inside a transaction, so a
 * table created earlier in the same file is known to be new and empty.
 */
export async function runSquawk(files: readonly string[], assumeInTransaction: boolean): Promise<SquawkFinding[]> {
    if (files.length === 0) {
        return [];
    }
    const binary = squawkBinaryPath();
    // --config /dev/null: a stray .squawk.toml up the tree must not switch rules off.
    const args = ["--reporter", "json", "--config", os.devNull, ...(assumeInTransaction ? ["--assume-in-transaction"] : []), ...files];
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(binary, args, { maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
            // squawk exits 1 when it has findings; only a missing or non-JSON report is a failure.
            if (error && typeof (error as { code?: unknown }).code !== "number") {
                reject(new OperationError(`could not run squawk (${binary}): ${error.message}`));
                return;
            }
            resolve({ stdout: out, stderr: err });
        });
    });
    // `--reporter json`: one object per finding, `line` counted from 0.
    let raw: { file: string; line: number; rule_name: string; message: string }[];
    try {
        raw = JSON.parse(stdout) as typeof raw;
    } catch {
        throw new OperationError(`squawk did not produce a report: ${(stderr || stdout).trim().split("\n")[0]}`);
    }
    const byResolved = new Map(files.map(file => [path.resolve(file), file]));
    return raw.map(finding => ({
        file: byResolved.get(path.resolve(finding.file)) ?? finding.file,
        line: finding.line + 1,
        rule: finding.rule_name,
        message: finding.message,
    }));
}
