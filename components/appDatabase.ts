import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";

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
    /** The application role's password (a secret). */
    password: pulumi.Input<string>;
}

/**
 * The application database, its role and grants, per environment. The database and the role are
 * protected and retained, the grant protected: no stack change or `pulumi destroy` can drop
 * patients' data, and none can drop the role that owns every table (dropping it runs REASSIGN /
 * DROP OWNED). A password change is an update, which protection allows; a rename or a delete
 * is a manual decision (unprotect, then change).
 */
export class AppDatabase extends pulumi.ComponentResource {
    public readonly databaseName: pulumi.Output<string>;
    public readonly user: pulumi.Output<string>;

    constructor(name: string, args: AppDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:db:AppDatabase", name, {}, opts);
        const provider = new postgresql.Provider(`${name}-admin`, {
            host: args.host,
            port: args.port,
            username: args.adminUser,
            password: args.adminPassword,
            sslmode: args.sslMode,
            superuser: false,
        }, { parent: this });

        const role = new postgresql.Role(`${name}-${args.user}`, {
            name: args.user,
            login: true,
            password: args.password,
        }, { parent: this, provider, protect: true, retainOnDelete: true });

        const database = new postgresql.Database(name, {
            name: args.databaseName,
            owner: role.name,
            encoding: "UTF8",
        }, { parent: this, provider, protect: true, retainOnDelete: true });

        // The owner has these already; granting them explicitly keeps them if ownership moves.
        new postgresql.Grant(`${name}-${args.user}-database`, {
            database: database.name,
            role: role.name,
            objectType: "database",
            privileges: ["CONNECT", "CREATE", "TEMPORARY"],
        }, { parent: this, provider, protect: true });

        this.databaseName = database.name;
        this.user = role.name;
        this.registerOutputs({ databaseName: this.databaseName, user: this.user });
    }
}
