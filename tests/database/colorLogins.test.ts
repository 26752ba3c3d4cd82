/**
 * Each color's login role on a real PostgreSQL (issue 9, item 1). The roles are made from the
 * program's own inputs (AppDatabase's `postgresql.Role`s, read from a mock run of index.ts) with
 * the statements the postgresql provider runs for them (CREATE ROLE … WITH LOGIN INHERIT PASSWORD,
 * GRANT <owner>, ALTER ROLE … SET ROLE <owner>; a password change is ALTER ROLE … PASSWORD), then
 * a rotation of the inactive color is played while the live color keeps logging in.
 */
import * as assert from "assert";
import { Client } from "pg";
import * as path from "path";
import { migrateUp } from "../../database/migrations/runner";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";
import { isSecretInput } from "../support/inputDiff";
import { freshDatabase, sharedPostgres, TestDatabase } from "../support/postgres";

const migrationsDir = path.join(__dirname, "..", "..", "migrations");
const Role = "postgresql:index/role:Role";

/** A role's inputs as AppDatabase registers them. */
interface RoleInputs {
    name: string;
    login: boolean;
    password: string;
    roles?: string[];
    inherit?: boolean;
    assumeRole?: string;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** What the postgresql provider runs to create a role with these inputs. */
function createRoleSql(role: RoleInputs): string[] {
    return [
        `CREATE ROLE ${ident(role.name)} WITH ${role.login ? "LOGIN" : "NOLOGIN"} ${role.inherit === false ? "NOINHERIT" : "INHERIT"} PASSWORD ${literal(role.password)}`,
        ...(role.roles ?? []).map(member => `GRANT ${ident(member)} TO ${ident(role.name)}`),
        ...(role.assumeRole ? [`ALTER ROLE ${ident(role.name)} SET ROLE ${ident(role.assumeRole)}`] : []),
    ];
}

describe("each color's database login on a real PostgreSQL", function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let admin: Client;
    let roles: Record<"owner" | "blue" | "green", RoleInputs>;
    const suffix = `${process.pid}`;
    const connectAs = async (role: { name: string }, password: string) => {
        const server = await sharedPostgres();
        const client = new Client({ host: server.host, port: server.port, user: role.name, password, database: db.name });
        await client.connect();
        return client;
    };

    before(async () => {
        // The roles as the program declares them for prod (names made unique on the shared server).
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { dbUser: `emr${suffix}` }));
        const inputs = (name: string): RoleInputs => {
            const recorded = find(run, Role, name).inputs;
            assert.ok(isSecretInput(recorded.password), `${name}: the password is not a secret`);
            return { ...recorded, password: recorded.password.value };
        };
        roles = {
            owner: inputs(`physioflow_prod-emr${suffix}`),
            blue: inputs(`physioflow_prod-emr${suffix}_blue`),
            green: inputs(`physioflow_prod-emr${suffix}_green`),
        };
        assert.deepStrictEqual([roles.blue.name, roles.green.name], [`emr${suffix}_blue`, `emr${suffix}_green`]);

        db = await freshDatabase("color_logins");
        admin = await db.connect();
        for (const role of [roles.owner, roles.blue, roles.green]) {
            for (const sql of createRoleSql(role)) await admin.query(sql);
        }
        await admin.query(`ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(roles.owner.name)}`);
        await admin.query(`ALTER SCHEMA public OWNER TO ${ident(roles.owner.name)}`);
        // The migrations run as the owner (the stack's migrate command), so the owner owns every table.
        await migrateUp({ dir: migrationsDir, connection: { ...db.connection, user: roles.owner.name, password: roles.owner.password } });
    });
    after(async () => {
        await admin?.end();
    });

    it("a color logs in with its own password and works as the owner: on the owner's tables, and what it creates belongs to the owner", async () => {
        const blue = await connectAs(roles.blue, roles.blue.password);
        try {
            const who = await blue.query("SELECT current_user, session_user");
            assert.deepStrictEqual(who.rows[0], { current_user: roles.owner.name, session_user: roles.blue.name });
            await blue.query("SELECT count(*) FROM patients");
            await blue.query("CREATE TABLE color_made (id int)");
            const owner = await admin.query("SELECT tableowner FROM pg_tables WHERE tablename = 'color_made'");
            assert.strictEqual(owner.rows[0].tableowner, roles.owner.name);
            await blue.query("DROP TABLE color_made");
        } finally {
            await blue.end();
        }
        await assert.rejects(connectAs(roles.blue, roles.green.password), /password authentication failed/);
    });

    it("rotating the inactive color's password (green) never refuses the live color (blue): its open sessions and new logins go on throughout", async () => {
        const blueSession = await connectAs(roles.blue, roles.blue.password);
        const failures: string[] = [];
        let logins = 0;
        let running = true;
        // The live color's pods: new connections all the time, as a pool does.
        const traffic = (async () => {
            while (running) {
                try {
                    const client = await connectAs(roles.blue, roles.blue.password);
                    await client.query("SELECT 1 FROM patients LIMIT 1");
                    await client.end();
                    logins++;
                } catch (err) {
                    failures.push((err as Error).message);
                }
            }
        })();
        try {
            const greenOld = await connectAs(roles.green, roles.green.password);
            // The rotation as the provider applies a new greenDbPassword.
            await admin.query(`ALTER ROLE ${ident(roles.green.name)} WITH PASSWORD ${literal("green-rotated")}`);
            await assert.rejects(connectAs(roles.green, roles.green.password), /password authentication failed/);
            const greenNew = await connectAs(roles.green, "green-rotated");
            assert.strictEqual((await greenNew.query("SELECT current_user")).rows[0].current_user, roles.owner.name);
            await greenNew.end();
            await greenOld.end();
            // The owner's password (migrations, backups) changes no color's login either.
            await admin.query(`ALTER ROLE ${ident(roles.owner.name)} WITH PASSWORD ${literal("owner-rotated")}`);
            await new Promise(resolve => setTimeout(resolve, 300));
            await blueSession.query("SELECT 1 FROM patients LIMIT 1");
            // A busy machine logs in slowly: let the live color's traffic reach a few logins across the rotation, however long that takes.
            for (const deadline = Date.now() + 30_000; logins < 5 && Date.now() < deadline;) await new Promise(resolve => setTimeout(resolve, 50));
        } finally {
            running = false;
            await traffic;
            await blueSession.end();
        }
        assert.deepStrictEqual(failures, [], "the live color was refused during the rotation");
        assert.ok(logins >= 5, `only ${logins} logins of the live color during the rotation`);
    });
});
