import { Client } from "pg";
import { ConnectionSettings, pgClientConfig } from "../connection";
import { formatDuration } from "../progress";

/** A session that holds (or queues ahead for) a lock a migration statement waits for. */
export interface BlockingSession {
    pid: number;
    applicationName: string;
    /** pg_stat_activity.state, e.g. "idle in transaction". */
    state: string | null;
    /** Lock modes it holds on the relation waited for, e.g. "AccessShareLock". */
    heldModes: string | null;
    /** How long its transaction has been open, in ms (null outside a transaction). */
    transactionMs: number | null;
    /** When its current (or last) query started. */
    queryStart: Date | null;
    /** That query, whitespace folded, cut at 120 characters. */
    query: string | null;
}

/** What a waiting migration statement was waiting for, and on whom. */
export interface LockWaitSnapshot {
    /** e.g. "AccessExclusiveLock on patients", "ShareLock on a row changed or locked by transaction 812", or "a lock" when pg_locks did not say. */
    waitingFor: string;
    blockers: BlockingSession[];
}

const SNAPSHOT_SQL = `
SELECT w.mode AS wanted_mode, w.locktype, w.relation::regclass::text AS relation, w.transactionid::text AS transaction_id,
       b.pid, b.application_name, b.state, b.query_start,
       (extract(epoch FROM now() - b.xact_start) * 1000)::bigint AS transaction_ms,
       left(regexp_replace(b.query, '\\s+', ' ', 'g'), 120) AS query,
       (SELECT string_agg(DISTINCT h.mode, ',') FROM pg_locks h
         WHERE h.pid = b.pid AND h.granted AND h.relation IS NOT DISTINCT FROM w.relation) AS held_modes
  FROM unnest(pg_blocking_pids($1)) AS bp(pid)
  JOIN pg_stat_activity b ON b.pid = bp.pid
  LEFT JOIN LATERAL (SELECT mode, locktype, relation, transactionid FROM pg_locks WHERE pid = $1 AND NOT granted LIMIT 1) w ON true
 ORDER BY b.xact_start NULLS LAST, b.pid`;

/**
 * A row of SNAPSHOT_SQL, one per blocking session (pg gives bigint as text, timestamptz as Date):
 * the lock waited for (all null when pg_locks shows no wait), and the blocking session.
 */
type SnapshotRow = (
    | { wanted_mode: string; locktype: string; relation: string | null; transaction_id: string | null }
    | { wanted_mode: null; locktype: null; relation: null; transaction_id: null }
) & {
    pid: number;
    application_name: string;
    state: string | null;
    query_start: Date | null;
    transaction_ms: string | null;
    query: string | null;
    held_modes: string | null;
};

/**
 * A second connection that looks, while a migration statement runs, at who
 * blocks it (`pg_blocking_pids`). Once lock_timeout fires the wait is gone, so
 * the sessions are caught during the wait and the last sighting is kept.
 */
export class BlockerWatch {
    /** The last time the statement of the latest {@link during} was seen blocked; undefined if never. */
    lastSighting: LockWaitSnapshot | undefined;

    private constructor(
        private readonly client: Client | undefined,
        private readonly pid: number,
    ) {}

    /** Opens the watching connection; without one (e.g. no free connection slot) the watch reports nothing. */
    static async open(connection: ConnectionSettings, watchedPid: number): Promise<BlockerWatch> {
        const client = new Client({ ...pgClientConfig(connection, "physioflow-migrate-watch"), connectionTimeoutMillis: 5_000 });
        client.on("error", () => undefined);
        try {
            await client.connect();
            return new BlockerWatch(client, watchedPid);
        } catch {
            return new BlockerWatch(undefined, watchedPid);
        }
    }

    /** Runs `work`, polling every `intervalMs` while it runs; the last sighting of a blocker is in {@link lastSighting} afterwards. */
    async during<T>(intervalMs: number, work: () => Promise<T>): Promise<T> {
        this.lastSighting = undefined;
        // Stryker disable next-line ConditionalExpression,BlockStatement: without a client every poll would fail and be ignored, the same outcome; this only skips the timer
        if (!this.client) {
            return work();
        }
        let polling: Promise<void> = Promise.resolve();
        const timer = setInterval(() => {
            polling = polling.then(async () => {
                const snapshot = await this.snapshot().catch(() => undefined);
                // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty snapshot comes only from a poll after the wait ended, in the millisecond before the failure is seen; keeping it would lose the sighting that explains the failure, which no test can time
                if (snapshot && snapshot.blockers.length > 0) {
                    this.lastSighting = snapshot;
                }
            });
        }, intervalMs);
        try {
            return await work();
        } finally {
            clearInterval(timer);
            // A poll under way when the statement failed may still hold the sighting that explains it.
            await polling;
        }
    }

    async close(): Promise<void> {
        await this.client?.end().catch(() => undefined);
    }

    private async snapshot(): Promise<LockWaitSnapshot> {
        const result = await this.client!.query<SnapshotRow>(SNAPSHOT_SQL, [this.pid]);
        const first = result.rows[0];
        // With no row there is no blocker and the snapshot is not kept; wanted_mode is null only when the lock was granted between two lines of the query.
        // Stryker disable next-line OptionalChaining,StringLiteral: see above: neither can be made to happen on purpose
        const waitingFor = first?.wanted_mode ? `${first.wanted_mode} on ${lockTarget(first)}` : "a lock";
        return {
            waitingFor,
            blockers: result.rows.map(row => ({
                pid: row.pid,
                applicationName: row.application_name,
                state: row.state,
                heldModes: row.held_modes,
                // Null for a session holding a session-level advisory lock outside a transaction.
                transactionMs: row.transaction_ms === null ? null : Number(row.transaction_ms),
                queryStart: row.query_start,
                query: row.query,
            })),
        };
    }
}

/** What a waited-for lock is on: a table, a row (the transaction that changed or locked it), or the lock type. */
function lockTarget(lock: { locktype: string; relation: string | null; transaction_id: string | null }): string {
    if (lock.relation) {
        return lock.relation;
    }
    if (lock.locktype === "transactionid") {
        return `a row changed or locked by transaction ${lock.transaction_id}`;
    }
    return lock.locktype;
}

/** "pid 4242 "physioflow-api" (holds AccessShareLock; idle in transaction, transaction open 3.2 s; last query started 2026-...: SELECT ...)". */
export function describeBlockers(snapshot: LockWaitSnapshot | undefined): string {
    if (!snapshot || snapshot.blockers.length === 0) {
        return "a lock held by another session (it was not caught before the timeout; look in pg_stat_activity)";
    }
    const sessions = snapshot.blockers.map(b => {
        const details = [
            b.heldModes ? `holds ${b.heldModes.split(",").join(", ")}` : undefined,
            [b.state ?? undefined, b.transactionMs !== null ? `transaction open ${formatDuration(b.transactionMs)}` : undefined].filter(Boolean).join(", ") ||
                undefined,
            b.queryStart ? `${b.state === "active" ? "query" : "last query"} started ${b.queryStart.toISOString()}${b.query ? `: ${b.query}` : ""}` : undefined,
        ].filter(Boolean);
        return `pid ${b.pid}${b.applicationName ? ` "${b.applicationName}"` : ""}${details.length ? ` (${details.join("; ")})` : ""}`;
    });
    return `${snapshot.waitingFor}, held by ${sessions.join(" and ")}`;
}
