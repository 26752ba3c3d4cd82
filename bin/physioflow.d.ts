/** Types of bin/physioflow.js, the `physioflow` entry point (plain JavaScript: it starts ts-node). */
import type { Readable, Writable } from "stream";

/**
 * Runs `physioflow <argv>` and resolves to its exit code, dispatching by the command list of
 * database/cli/commands.ts. `streams` replace the process's stdout, stderr and stdin, for tests.
 */
export function physioflow(argv: readonly string[], streams?: { stdout: Writable; stderr: Writable; stdin: Readable & { isTTY?: boolean } }): Promise<number>;
