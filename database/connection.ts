import * as os from "os";
import { ClientConfig } from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { UsageError } from "./errors";

/**
 * Where the database is. Resolved once from the environment so that the `pg`
 * client and the child processes (pg_dump, pg_restore, psql) reach the same server.
 */
export interface ConnectionSettings {
    /** Host name, IP address or Unix-socket directory. Default "localhost". */
    host: string;
    /** TCP port. Default 5432. */
    port: number;
    /** Role to connect as. Default: the operating-system user. */
    user: string;
    /** Password; never printed and only ever passed to child processes through PGPASSWORD. */
    password?: string;
    /** Database name. Default: the user name. */
    database: string;
    /** libpq sslmode (disable, prefer, require, verify-ca, verify-full), if set. */
    sslmode?: string;
}

/**
 * Reads `DATABASE_URL` if set, else the standard `PGHOST`/`PGPORT`/`PGUSER`/
 * `PGPASSWORD`/`PGDATABASE`/`PGSSLMODE` variables, with libpq's defaults.
 */
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
    const defaultUser = env.PGUSER || safeOsUser();
    if (env.DATABASE_URL) {
        let parsed: ReturnType<typeof parseConnectionString>;
        try {
            parsed = parseConnectionString(env.DATABASE_URL);
        } catch {
            throw new UsageError("DATABASE_URL is not a valid postgres:// URL");
        }
        const user = parsed.user || defaultUser;
        return {
            host: parsed.host || env.PGHOST || "localhost",
            port: parsePort(parsed.port || env.PGPORT, "DATABASE_URL port"),
            user,
            password: parsed.password || env.PGPASSWORD || undefined,
            database: parsed.database || env.PGDATABASE || user,
            sslmode: typeof parsed.sslmode === "string" ? parsed.sslmode : env.PGSSLMODE || undefined,
        };
    }
    return {
        host: env.PGHOST || "localhost",
        port: parsePort(env.PGPORT, "PGPORT"),
        user: defaultUser,
        password: env.PGPASSWORD || undefined,
        database: env.PGDATABASE || defaultUser,
        sslmode: env.PGSSLMODE || undefined,
    };
}

/** The same settings aimed at another database on the same server. */
export function withDatabase(settings: ConnectionSettings, database: string): ConnectionSettings {
    return { ...settings, database };
}

/** "emr@db.example:5432/physioflow_dev": for messages; never includes the password. */
export function describeConnection(settings: ConnectionSettings): string {
    return `${settings.user}@${settings.host}:${settings.port}/${settings.database}`;
}

/** Options for `new pg.Client(...)`. */
export function pgClientConfig(settings: ConnectionSettings, applicationName = "physioflow"): ClientConfig {
    const config: ClientConfig = {
        host: settings.host,
        port: settings.port,
        user: settings.user,
        password: settings.password,
        database: settings.database,
        application_name: applicationName,
    };
    if (settings.sslmode && settings.sslmode !== "disable" && settings.sslmode !== "allow") {
        config.ssl = settings.sslmode.startsWith("verify") ? true : { rejectUnauthorized: false };
    }
    return config;
}

/**
 * Environment for pg_dump, pg_restore and psql: the base environment with the
 * connection spelled out as PG* variables, so no credential appears on a command line.
 */
export function childProcessEnv(settings: ConnectionSettings, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    delete env.DATABASE_URL;
    delete env.PGPASSWORD;
    env.PGHOST = settings.host;
    env.PGPORT = String(settings.port);
    env.PGUSER = settings.user;
    env.PGDATABASE = settings.database;
    if (settings.password !== undefined) {
        env.PGPASSWORD = settings.password;
    }
    if (settings.sslmode) {
        env.PGSSLMODE = settings.sslmode;
    }
    return env;
}

function parsePort(value: string | null | undefined, what: string): number {
    if (value === undefined || value === null || value === "") {
        return 5432;
    }
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new UsageError(`${what} must be a port number (1-65535), got "${value}"`);
    }
    return port;
}

function safeOsUser(): string {
    try {
        return os.userInfo().username;
    } catch {
        return "postgres";
    }
}
