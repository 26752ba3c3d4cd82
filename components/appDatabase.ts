import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { loginRole } from "./colorCredentials";
import { Color, colors } from "./colors";

export interface AppDatabaseArgs {
    /** PostgreSQL server host. */
    host: pulumi.Input<string>;
    /** PostgreSQL server port. */
    port: pulumi.Input<number>;
    /** Admin role the provider connects as; it must be able to create roles and databases. */
    adminUser: pulumi.Input<string>;
    /** The admin role's password (a secret). */
    adminPassword: pulumi.Input<string>;
    /** `sslmode` of the provider's connection (`disable`, `require`, `verify-ca`, `verify-full`). */
    sslMode: pulumi.Input<string>;
    /** The application database, e.g. `physioflow_dev`. */
    databaseName: string;
    /** The application role (owner of the database, e.g. `emr`). */
    user: string;
    /** The owner role's password (a secret); migrations and backups log in with it. */
    password: pulumi.Input<string>;
    /** Each color's login role's password (secrets): the apps of a color log in as `<user>_<color>`. */
    colorPasswords: Record<Color, pulumi.Input<string>>;
    /**
     * Adopt the existing database and owner role of these names (the `import` resource option)
     * instead of creating them, changing nothing of them in that update ({@link importedRoleFields},
     * {@link importedDatabaseFields}): the next update sets what the stack declares, shown in its
     * preview first. Default false.
     */
    importExisting?: boolean;
}

/**
 * What the import of the team's owner role leaves out of that update: the engine (3.248) imports a
 * resource whose declared inputs differ from what it reads and then updates it in the same run, so
 * every attribute the stack declares or defaults (the provider defaults `superuser`, `createdb`,
 * memberships, `search_path`… to its own values) would be changed on the live role during the
 * import: a hand-made `emr` that is a superuser, or a member of another role, would lose it
 * unseen. Left out, they show in the preview after the import and change with the next `up`, when
 * the team decides. The password, besides, cannot be read back.
 */
export const importedRoleFields = [
    "password",
    "superuser",
    "createDatabase",
    "createRole",
    "inherit",
    "replication",
    "bypassRowLevelSecurity",
    "connectionLimit",
    "validUntil",
    "roles",
    "searchPaths",
    "statementTimeout",
    "idleInTransactionSessionTimeout",
    "assumeRole",
];

/** What the import of the team's database leaves out of that update, for the same reason: its owner and settings. */
export const importedDatabaseFields = [
    "owner",
    "encoding",
    "lcCollate",
    "lcCtype",
    "template",
    "connectionLimit",
    "allowConnections",
    "isTemplate",
    "tablespaceName",
];

/**
 * The application database, its role and grants, per environment. The database and the role are
 * protected and retained, the grant protected: no stack change or `pulumi destroy` can drop
 * patients' data, and none can drop the role that owns every table (dropping it runs REASSIGN /
 * DROP OWNED). A password change is an update, which protection allows; a rename or a delete
 * is a manual decision (unprotect, then change).
 *
 * The apps do not log in as the owner: each color has its own login role, `<user>_blue` and
 * `<user>_green`, a member of the owner that becomes it at login (`SET ROLE` through the role's
 * `role` setting), so it works on the owner's tables as the owner and what it creates belongs to
 * the owner. A color's password changes only its own role: the other color's logins go on. They
 * are protected and retained too: deleting one would log a color's pods out.
 */
export class AppDatabase extends pulumi.ComponentResource {
    public readonly databaseName: pulumi.Output<string>;
    public readonly user: pulumi.Output<string>;
    /** The login role of each color's pods. */
    public readonly colorUsers: Record<Color, pulumi.Output<string>>;

    constructor(name: string, args: AppDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:db:AppDatabase", name, {}, opts);
        const provider = new postgresql.Provider(
            `${name}-admin`,
            {
                host: args.host,
                port: args.port,
                username: args.adminUser,
                password: args.adminPassword,
                sslmode: args.sslMode,
                superuser: false,
            },
            { parent: this },
        );

        const role = new postgresql.Role(
            `${name}-${args.user}`,
            {
                name: args.user,
                login: true,
                password: args.password,
            },
            {
                parent: this,
                provider,
                protect: true,
                retainOnDelete: true,
                ...(args.importExisting ? { import: args.user, ignoreChanges: importedRoleFields } : {}),
            },
        );

        const database = new postgresql.Database(
            name,
            {
                name: args.databaseName,
                owner: role.name,
                encoding: "UTF8",
            },
            {
                parent: this,
                provider,
                protect: true,
                retainOnDelete: true,
                ...(args.importExisting ? { import: args.databaseName, ignoreChanges: importedDatabaseFields } : {}),
            },
        );

        // The owner has these already; granting them explicitly keeps them if ownership moves.
        new postgresql.Grant(
            `${name}-${args.user}-database`,
            {
                database: database.name,
                role: role.name,
                objectType: "database",
                privileges: ["CONNECT", "CREATE", "TEMPORARY"],
            },
            { parent: this, provider, protect: true },
        );

        const colorRoles = Object.fromEntries(
            colors.map(color => [
                color,
                new postgresql.Role(
                    `${name}-${loginRole(args.user, color)}`,
                    {
                        name: loginRole(args.user, color),
                        login: true,
                        password: args.colorPasswords[color],
                        roles: [role.name],
                        inherit: true,
                        assumeRole: role.name,
                    },
                    { parent: this, provider, dependsOn: [database], protect: true, retainOnDelete: true },
                ),
            ]),
        ) as Record<Color, postgresql.Role>;

        this.databaseName = database.name;
        this.user = role.name;
        this.colorUsers = { blue: colorRoles.blue.name, green: colorRoles.green.name };
        this.registerOutputs({ databaseName: this.databaseName, user: this.user, colorUsers: this.colorUsers });
    }
}
