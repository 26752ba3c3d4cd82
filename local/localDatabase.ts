/**
 * What the stack's AppDatabase (@pulumi/postgresql) does, done with SQL for the local run: the
 * application role with its password, the database it owns, and each color's login role (a member
 * of the owner that becomes it at login, with the color's own password: the real pods' /health logs
 * in with it). Idempotent.
 */
import { Client } from "pg";

export interface AppDatabaseSettings {
    /** Superuser connection to the server. */
    admin: { host: string; port: number; user: string; password: string };
    database: string;
    user: string;
    password: string;
    /** Each color's login role and password (components/colorCredentials.ts `loginRole`). */
    colorLogins: Record<"blue" | "green", { user: string; password: string }>;
}

/** Creates the role and database when missing and sets the role's password; says what it did. */
export async function ensureAppDatabase(settings: AppDatabaseSettings): Promise<string> {
    const client = new Client({ ...settings.admin, database: "postgres" });
    await client.connect();
    try {
        const role = client.escapeIdentifier(settings.user);
        const password = client.escapeLiteral(settings.password);
        const roleExists = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [settings.user])).rowCount === 1;
        await client.query(`${roleExists ? "ALTER" : "CREATE"} ROLE ${role} LOGIN PASSWORD ${password}`);
        const databaseExists = (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [settings.database])).rowCount === 1;
        if (!databaseExists) {
            await client.query(`CREATE DATABASE ${client.escapeIdentifier(settings.database)} OWNER ${role} ENCODING 'UTF8' TEMPLATE template0`);
        }
        await client.query(`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE ${client.escapeIdentifier(settings.database)} TO ${role}`);
        // The statements the postgresql provider runs for AppDatabase's color roles (tests/database/colorLogins.test.ts).
        const logins: string[] = [];
        for (const login of Object.values(settings.colorLogins)) {
            const name = client.escapeIdentifier(login.user);
            const exists = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [login.user])).rowCount === 1;
            await client.query(`${exists ? "ALTER" : "CREATE"} ROLE ${name} WITH LOGIN INHERIT PASSWORD ${client.escapeLiteral(login.password)}`);
            await client.query(`GRANT ${role} TO ${name}`);
            await client.query(`ALTER ROLE ${name} SET ROLE ${role}`);
            logins.push(`${login.user} (${exists ? "exists" : "created"})`);
        }
        const what = (exists: boolean) => (exists ? "exists" : "created");
        return `database ${settings.database} (${what(databaseExists)}), owner role ${settings.user} (${what(roleExists)}), color logins ${logins.join(", ")}`;
    } finally {
        await client.end();
    }
}
