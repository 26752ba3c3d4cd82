import { ClientBase } from "pg";
import { MigrationFile, NO_VERSION } from "./files";
import { AppliedMigration } from "./validate";

/**
 * `schema_migrations` keeps the runbook's queries working
 * (`SELECT * FROM schema_migrations ORDER BY version DESC`,
 * `DELETE FROM schema_migrations WHERE version = '011'`).
 */
export const CREATE_HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version      text PRIMARY KEY CHECK (version ~ '^[0-9]{3}$'),
    name         text,
    checksum     text,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms integer,
    applied_by   text DEFAULT current_user
)`;

/** Columns added to a `schema_migrations` created by the old shell scripts. */
export const UPGRADE_HISTORY_TABLE = `ALTER TABLE schema_migrations
    ADD COLUMN IF NOT EXISTS name text,
    ADD COLUMN IF NOT EXISTS checksum text,
    ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now(),
    ADD COLUMN IF NOT EXISTS execution_ms integer,
    ADD COLUMN IF NOT EXISTS applied_by text DEFAULT current_user`;

/** True when `schema_migrations` exists (in the search path). */
export async function historyTableExists(client: ClientBase): Promise<boolean> {
    const result = await client.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
    return result.rows[0].exists;
}

/** Creates `schema_migrations` or adds the columns this tool records. */
export async function ensureHistoryTable(client: ClientBase): Promise<void> {
    if (!(await historyTableExists(client))) {
        await client.query(CREATE_HISTORY_TABLE);
        return;
    }
    const columns = await historyColumns(client);
    if (!["name", "checksum", "applied_at", "execution_ms", "applied_by"].every(column => columns.has(column))) {
        await client.query(UPGRADE_HISTORY_TABLE);
    }
}

/** All rows, oldest first; empty when the table does not exist. */
export async function readApplied(client: ClientBase): Promise<AppliedMigration[]> {
    if (!(await historyTableExists(client))) {
        return [];
    }
    const has = await historyColumns(client);
    const pick = (column: string) => (has.has(column) ? column : `NULL AS ${column}`);
    // execution_ms is an integer (pg gives a number); a column the table lacks reads as NULL.
    const result = await client.query<{ version: string; name: string | null; checksum: string | null; applied_at: Date | null; execution_ms: number | null }>(
        `SELECT version::text AS version, ${pick("name")}, ${pick("checksum")}, ${pick("applied_at")}, ${pick("execution_ms")}
           FROM schema_migrations ORDER BY version`,
    );
    return result.rows.map(row => ({
        version: row.version,
        name: row.name ?? null,
        checksum: row.checksum ?? null,
        appliedAt: row.applied_at ?? null,
        executionMs: row.execution_ms ?? null,
    }));
}

async function historyColumns(client: ClientBase): Promise<Set<string>> {
    const result = await client.query<{ attname: string }>(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('schema_migrations') AND attnum > 0 AND NOT attisdropped",
    );
    return new Set(result.rows.map(row => row.attname));
}

/** The applied head, e.g. "005", or "000". */
export async function readCurrentVersion(client: ClientBase): Promise<string> {
    if (!(await historyTableExists(client))) {
        return NO_VERSION;
    }
    const result = await client.query<{ version: string | null }>("SELECT max(version::text) AS version FROM schema_migrations");
    return result.rows[0].version ?? NO_VERSION;
}

/** Records a migration as applied (inside the migration's own transaction when it has one). */
export async function recordApplied(client: ClientBase, migration: MigrationFile, executionMs: number): Promise<void> {
    await client.query("INSERT INTO schema_migrations (version, name, checksum, applied_at, execution_ms) VALUES ($1, $2, $3, now(), $4)", [
        migration.version,
        migration.name,
        migration.checksum,
        Math.round(executionMs),
    ]);
}

/** Removes a reverted migration's row. */
export async function deleteApplied(client: ClientBase, version: string): Promise<void> {
    await client.query("DELETE FROM schema_migrations WHERE version = $1", [version]);
}
