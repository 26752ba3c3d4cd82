import { ClientBase } from "pg";
import { OperationError } from "../errors";
import { Progress, formatDuration } from "../progress";

/**
 * The advisory lock every runner takes before reading or changing the schema:
 * (namespace, key) in the two-int4 form so `pg_locks` shows it as
 * classid/objid. Advisory locks are per database.
 */
export const MIGRATION_LOCK = { namespace: 0x50464c57, key: 1 } as const; // "PFLW"

/** How long to wait for another runner, and how often to re-try. */
export interface LockWait {
    /** Give up after this many milliseconds. */
    timeoutMs: number;
    /** Poll interval in milliseconds. Default 250. */
    pollMs?: number;
    /** Told once when the lock is busy. */
    progress?: Progress;
}

/**
 * Takes the migration lock on this session, waiting at most `timeoutMs` for a
 * runner that holds it; fails naming the holder when it does not come free.
 */
export async function acquireMigrationLock(client: ClientBase, wait: LockWait): Promise<void> {
    const started = Date.now();
    let announced = false;
    for (;;) {
        const result = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
        if (result.rows[0].locked) {
            return;
        }
        const waited = Date.now() - started;
        if (!announced) {
            wait.progress?.line(`migrate: waiting for the migration lock held by ${await describeHolder(client)} (up to ${formatDuration(wait.timeoutMs)})`);
            announced = true;
        }
        // Stryker disable next-line EqualityOperator: a millisecond more or less of waiting
        if (waited >= wait.timeoutMs) {
            throw new OperationError(
                `another migration runner holds the migration lock (${await describeHolder(client)}); gave up after ${formatDuration(waited)}; retry when it finishes or raise --runner-wait`,
            );
        }
        await new Promise(resolve => setTimeout(resolve, Math.min(wait.pollMs ?? 250, Math.max(1, wait.timeoutMs - waited))));
    }
}

/** Releases the lock taken by {@link acquireMigrationLock} on this session. */
export async function releaseMigrationLock(client: ClientBase): Promise<void> {
    await client.query("SELECT pg_advisory_unlock($1, $2)", [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key]);
}

async function describeHolder(client: ClientBase): Promise<string> {
    const result = await client.query<{ pid: number; application_name: string; backend_start: Date }>(
        `SELECT a.pid, a.application_name, a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`,
        [MIGRATION_LOCK.namespace, MIGRATION_LOCK.key],
    );
    const holder = result.rows[0];
    if (!holder) {
        return "a session that just let go";
    }
    return `pid ${holder.pid}${holder.application_name ? ` "${holder.application_name}"` : ""}, connected since ${holder.backend_start.toISOString()}`;
}
