/**
 * A real PostgreSQL server for tests (devenv/postgresServer.ts): initdb in a temp
 * dir, a free loopback port, stopped and deleted when the test process exits.
 * Nothing is mocked; a missing binary fails loudly with what to install.
 */
import { PostgresServer, ServerDatabase, startPostgres } from "../../devenv/postgresServer";

export { findPostgresBinDir, startPostgres } from "../../devenv/postgresServer";

/** A running test server. */
export type TestPostgres = PostgresServer;
/** A fresh database on a test server. */
export type TestDatabase = ServerDatabase;

let shared: Promise<TestPostgres> | undefined;
let databaseCounter = 0;

/**
 * One server for the whole test run (started on first use, stopped when the
 * process exits), so each suite only pays for `createDatabase`.
 */
export function sharedPostgres(): Promise<TestPostgres> {
    shared ??= startPostgres();
    return shared;
}

/** A fresh database on the shared server, named after `prefix`. */
export async function freshDatabase(prefix = "test"): Promise<TestDatabase> {
    const server = await sharedPostgres();
    databaseCounter++;
    return server.createDatabase(`${prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_")}_${process.pid}_${databaseCounter}`);
}
