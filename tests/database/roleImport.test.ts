/**
 * Importing the team's existing role and database (issue 9, item 7): would the preview after the
 * import show a change to the role's attributes?
 *
 * The postgresql Pulumi plugin cannot be built on this machine, so the engine's import is not run
 * here (the namespace's is, in tests/engine/importExisting.test.ts). What an import does is read
 * the object into the state; the next preview diffs the program's inputs against that state. This
 * test plays both halves against a real PostgreSQL: the role and database are made as the runbook's
 * team made them (`emr`, a login, owner of the environment's database), read back from the catalog
 * attribute by attribute (pg_roles, pg_auth_members, the role's settings: what the provider reads
 * for a role), and compared with the program's own inputs for the `import`ed resources (a mock run of
 * index.ts with `importExisting`), each attribute the program leaves out taken at the provider's
 * documented default (the @pulumi/postgresql SDK's RoleArgs/DatabaseArgs). The import's own update
 * changes none of them (`ignoreChanges`: importedRoleFields); a difference found here is what the
 * next `up` changes, so a role made as the runbook makes it must show none. The password cannot be read back.
 */
import * as assert from "assert";
import { importedRoleFields } from "../../components/appDatabase";
import { Client } from "pg";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";
import { freshDatabase, TestDatabase } from "../support/postgres";

const Role = "postgresql:index/role:Role";
const Database = "postgresql:index/database:Database";

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The Role attributes the provider reads back, with their defaults (RoleArgs' documentation). */
const roleDefaults = {
    superuser: false,
    createDatabase: false,
    createRole: false,
    inherit: true,
    login: false,
    replication: false,
    bypassRowLevelSecurity: false,
    connectionLimit: -1,
    validUntil: "infinity",
    roles: [] as string[],
    searchPaths: [] as string[],
    statementTimeout: 0,
    idleInTransactionSessionTimeout: 0,
    assumeRole: "",
};
type RoleState = typeof roleDefaults;

/** Inputs the read-back cannot compare: the name (the import's id) and the password (ignored). */
const roleInputsNotRead = ["name", "password"];

/** A role as the catalog has it, in the provider's terms. */
async function readRole(client: Client, name: string): Promise<RoleState> {
    const { rows } = await client.query(
        `
        SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit, r.rolcanlogin, r.rolreplication, r.rolbypassrls,
               r.rolconnlimit, COALESCE(r.rolvaliduntil::text, 'infinity') AS valid_until, COALESCE(r.rolconfig, '{}') AS config,
               ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text[] AS roles
          FROM pg_roles r WHERE r.rolname = $1`,
        [name],
    );
    assert.strictEqual(rows.length, 1, `role ${name} does not exist`);
    const row = rows[0];
    const settings = new Map<string, string>(
        (row.config as string[]).map(entry => {
            const at = entry.indexOf("=");
            return [entry.slice(0, at), entry.slice(at + 1)];
        }),
    );
    const milliseconds = (value: string | undefined) => (value === undefined ? 0 : /^\d+$/.test(value) ? Number(value) : (value as unknown as number));
    return {
        superuser: row.rolsuper,
        createDatabase: row.rolcreatedb,
        createRole: row.rolcreaterole,
        inherit: row.rolinherit,
        login: row.rolcanlogin,
        replication: row.rolreplication,
        bypassRowLevelSecurity: row.rolbypassrls,
        connectionLimit: row.rolconnlimit,
        validUntil: row.valid_until,
        roles: row.roles,
        searchPaths: settings.has("search_path") ? settings.get("search_path")!.split(", ") : [],
        statementTimeout: milliseconds(settings.get("statement_timeout")),
        idleInTransactionSessionTimeout: milliseconds(settings.get("idle_in_transaction_session_timeout")),
        assumeRole: settings.get("role") ?? "",
    };
}

/** `attribute: state -> program` for each attribute the next preview would change. */
function roleDiff(state: RoleState, inputs: Record<string, unknown>): string[] {
    const unknown = Object.keys(inputs).filter(key => !(key in roleDefaults) && !roleInputsNotRead.includes(key));
    assert.deepStrictEqual(unknown, [], "the program sets role attributes this test does not read back");
    const wanted: RoleState = { ...roleDefaults, ...Object.fromEntries(Object.entries(inputs).filter(([key]) => key in roleDefaults)) };
    return (Object.keys(roleDefaults) as (keyof RoleState)[])
        .filter(key => JSON.stringify(state[key]) !== JSON.stringify(wanted[key]))
        .map(key => `${key}: ${JSON.stringify(state[key])} -> ${JSON.stringify(wanted[key])}`);
}

describe("importing the team's role and database: the next preview changes no attribute", function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let admin: Client;
    // Unique on the shared server (colorLogins.test.ts uses emr<pid>, in the same worker process).
    const owner = `emr_import${process.pid}`;
    const made: string[] = [];
    let inputs: { role: Record<string, unknown>; database: Record<string, unknown> };

    before(async () => {
        // The program's imported resources, for prod, with this server's unique owner name.
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { dbUser: owner, importExisting: "true" }));
        const role = find(run, Role, `physioflow_prod-${owner}`);
        const database = find(run, Database, "physioflow_prod");
        assert.strictEqual(role.options.importId, owner);
        assert.deepStrictEqual(role.options.ignoreChanges, importedRoleFields);
        assert.strictEqual(database.options.importId, "physioflow_prod");
        inputs = { role: role.inputs, database: database.inputs };

        db = await freshDatabase("role_import");
        admin = await db.connect();
    });
    after(async () => {
        for (const name of made) await admin?.query(`DROP ROLE IF EXISTS ${ident(name)}`).catch(() => undefined);
        await admin?.end();
    });

    const makeRole = async (name: string, sql: string) => {
        made.push(name);
        await admin.query(sql);
    };

    it("the owner as the team made it (a login with a password, owner of the database): no attribute changes", async () => {
        await makeRole(owner, `CREATE ROLE ${ident(owner)} WITH LOGIN PASSWORD 'the-teams-password'`);
        await admin.query(`ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(owner)}`);
        assert.deepStrictEqual(roleDiff(await readRole(admin, owner), inputs.role), []);

        // The database: its owner and encoding as the program declares them.
        const { rows } = await admin.query(
            `SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,
            datconnlimit, datallowconn, datistemplate FROM pg_database WHERE datname = $1`,
            [db.name],
        );
        assert.deepStrictEqual({ owner: inputs.database.owner, encoding: inputs.database.encoding }, { owner, encoding: "UTF8" });
        assert.deepStrictEqual(rows[0], { owner, encoding: "UTF8", datconnlimit: -1, datallowconn: true, datistemplate: false });
        assert.deepStrictEqual(
            Object.keys(inputs.database).sort(),
            ["encoding", "name", "owner"],
            "the program sets database attributes this test does not read back",
        );
    });

    it("`CREATE USER` (the other way the team may have made it) reads back the same", async () => {
        const name = `${owner}_user`;
        await makeRole(name, `CREATE USER ${ident(name)} PASSWORD 'x'`);
        assert.deepStrictEqual(roleDiff(await readRole(admin, name), inputs.role), []);
    });

    it("a role with more rights than the program declares shows each one the next preview would take away", async () => {
        // The comparison can fail: a hand-made role with CREATEDB and a connection limit is not
        // what the program declares, and the preview after the import says so (it does not pass
        // silently, and the update would change only these two).
        const name = `${owner}_wider`;
        await makeRole(name, `CREATE ROLE ${ident(name)} WITH LOGIN CREATEDB CONNECTION LIMIT 20 PASSWORD 'x'`);
        assert.deepStrictEqual(roleDiff(await readRole(admin, name), inputs.role), ["createDatabase: true -> false", "connectionLimit: 20 -> -1"]);
        await admin.query(`ALTER ROLE ${ident(name)} SET statement_timeout = 5000`);
        assert.deepStrictEqual(roleDiff(await readRole(admin, name), inputs.role), [
            "createDatabase: true -> false",
            "connectionLimit: 20 -> -1",
            "statementTimeout: 5000 -> 0",
        ]);
    });

    it("each color's login role, made from the program's inputs, reads back as declared (membership, inherit, SET ROLE)", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { dbUser: owner }));
        for (const color of ["blue", "green"]) {
            const role = find(run, Role, `physioflow_prod-${owner}_${color}`).inputs;
            assert.deepStrictEqual(role.roles, [owner]);
            made.push(role.name);
            await admin.query(`CREATE ROLE ${ident(role.name)} WITH LOGIN INHERIT PASSWORD 'x'`);
            await admin.query(`GRANT ${ident(owner)} TO ${ident(role.name)}`);
            await admin.query(`ALTER ROLE ${ident(role.name)} SET ROLE ${ident(role.assumeRole)}`);
            assert.deepStrictEqual(roleDiff(await readRole(admin, role.name), role), []);
        }
    });
});
