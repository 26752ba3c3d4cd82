/**
 * Errors meant for people. The CLI prints `message` as one line and exits with
 * `exitCode`; anything else that escapes is reported the same way with exit 1.
 */

/** Bad input: unknown command or option, malformed NNN, missing file. Exit code 2. */
export class UsageError extends Error {
    readonly exitCode = 2;
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

/** An operation was refused or failed; the message says what and what to do. Exit code 1. */
export class OperationError extends Error {
    readonly exitCode: number = 1;
    /** The underlying error, shown with --verbose. */
    readonly cause?: unknown;
    constructor(message: string, options?: { cause?: unknown }) {
        super(message);
        this.name = "OperationError";
        this.cause = options?.cause;
    }
}

/** Exit code for an error thrown anywhere in the tool. */
export function exitCodeOf(error: unknown): number {
    if (error instanceof UsageError || error instanceof OperationError) {
        return error.exitCode;
    }
    return 1;
}

/**
 * An error's message (or any text) folded onto one line, for a CLI's `error:` line or a field of a
 * report: each line break and the spaces around it become one space. For the failing resource and
 * reason out of a Pulumi engine error, see engineErrorSummary in release/deploy.ts.
 */
export function messageOnOneLine(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return text.replace(/\s*\n\s*/g, " ").trim();
}
