/**
 * How long a migration may wait for a table lock, and how long a statement may
 * run. An `ALTER TABLE` queued behind a long query blocks every later query on
 * that table while it waits, so the wait must be short and the failure clean.
 */

/** Default `lock_timeout` for every migration file (CLI `--lock-timeout`, header `-- physioflow:lock-timeout`). */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
/** Default `statement_timeout`: none. Backfills may legitimately run long; waiting for locks is what lock_timeout bounds. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 0;

/** The timeouts a file runs under, after the CLI's defaults and its header. */
export interface FileTimeouts {
    /** PostgreSQL `lock_timeout` in ms; always positive. */
    lockTimeoutMs: number;
    /** PostgreSQL `statement_timeout` in ms; 0 = no limit. */
    statementTimeoutMs: number;
}

/** "30s", "2m", "500ms" or plain seconds ("30") → milliseconds; undefined when it is not one of those. */
export function parseDurationMs(text: string): number | undefined {
    const match = /^(\d+)(ms|s|m)?$/.exec(text.trim());
    if (!match) {
        return undefined;
    }
    const value = Number(match[1]);
    return match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1000;
}

/**
 * The SQL run before each migration file: session settings (not SET LOCAL) so
 * they hold for no-transaction files too; set again before every file so one
 * file's header never leaks into the next.
 */
export function timeoutSettingsSql(timeouts: FileTimeouts): string {
    return `SET lock_timeout = ${Math.round(timeouts.lockTimeoutMs)}; SET statement_timeout = ${Math.round(timeouts.statementTimeoutMs)}`;
}

/** The file's header wins over the run's defaults. */
export function fileTimeouts(directives: { lockTimeoutMs?: number; statementTimeoutMs?: number }, defaults: Partial<FileTimeouts> = {}): FileTimeouts {
    return {
        lockTimeoutMs: directives.lockTimeoutMs ?? defaults.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
        statementTimeoutMs: directives.statementTimeoutMs ?? defaults.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    };
}
