import { Client } from "pg";
import { ConnectionSettings, describeConnection, pgClientConfig } from "./connection";
import { OperationError } from "./errors";

/**
 * Opens a connection, runs `work`, always closes it. Connection failures become
 * one-line errors that say which server was tried and what to check.
 */
export async function withClient<T>(settings: ConnectionSettings, applicationName: string, work: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ ...pgClientConfig(settings, applicationName), connectionTimeoutMillis: 15_000 });
    // A server-side disconnect after connecting surfaces through the running query; don't crash on the event.
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (error) {
        throw connectionError(settings, error);
    }
    try {
        return await work(client);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** PostgreSQL major version of the connected server, e.g. 15. */
export async function serverMajorVersion(client: Client): Promise<{ major: number; version: string }> {
    const result = await client.query<{ num: string; version: string }>(
        "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
    );
    return { major: Math.floor(Number(result.rows[0].num) / 10000), version: result.rows[0].version };
}

function connectionError(settings: ConnectionSettings, error: unknown): OperationError {
    const where = describeConnection(settings);
    const err = error as { code?: string; message?: string };
    let hint = "check PGHOST/PGPORT/PGUSER/PGDATABASE or DATABASE_URL";
    if (err.code === "28P01" || err.code === "28000") {
        hint = "check the password in PGPASSWORD or DATABASE_URL";
    } else if (err.code === "3D000") {
        hint = "check PGDATABASE or the database in DATABASE_URL";
    } else if (err.code === "ECONNREFUSED") {
        hint = "is PostgreSQL running and listening there?";
    }
    return new OperationError(`cannot connect to PostgreSQL at ${where}: ${err.message ?? String(error)}; ${hint}`, { cause: error });
}
