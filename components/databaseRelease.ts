import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./colors";
import { backupCommand, defaultCli, lastLine, latestBackupCommand, migrateCommand, migrateVersionCommand } from "./databaseCommands";

export interface DatabaseReleaseArgs {
    /** Environment name, recorded in the backup archive's name and metadata. */
    environment: string;
    /** PostgreSQL server host (PGHOST of the commands). */
    host: pulumi.Input<string>;
    /** PostgreSQL server port (PGPORT). */
    port: pulumi.Input<number>;
    /** Database to back up and migrate (PGDATABASE); pass the AppDatabase's output so it exists first. */
    database: pulumi.Input<string>;
    /** Role the commands log in as (PGUSER), the database's owner. */
    user: pulumi.Input<string>;
    /** The user's password; reaches the commands only through their environment. */
    password: pulumi.Input<string>;
    /** libpq `sslmode` (PGSSLMODE). */
    sslMode: pulumi.Input<string>;
    /** Migrations folder relative to the project root, e.g. `migrations`. */
    migrationsDir: string;
    /** Version to migrate to (`NNN`); under `holdMigrations`, the version the stack's last update applied. */
    migrationTarget: string;
    /** Hash of the migration files up to the target (components/migrationFiles.ts); a change re-runs backup and migrate. */
    migrationsChecksum: string;
    /** Where backups are written on the machine running Pulumi. */
    backupDir: string;
    /**
     * S3-compatible store each backup is also uploaded to (with a 30-day expiry rule), with the
     * months each month's first backup is kept under `monthly/` (0: none) and the cold storage
     * class those copies move to (undefined: none). Default no store.
     */
    backupUpload?: {
        endpoint: string;
        bucket: string;
        region: string;
        monthlyKeepMonths: number;
        coldStorageClass?: string;
        accessKeyId: pulumi.Input<string>;
        secretAccessKey: pulumi.Input<string>;
    };
    /** Both colors' image tags as this update declares them, recorded in each backup's metadata (`colors`). */
    colorTags: Record<Color, string>;
    /** The color serving during this update, recorded in each backup's metadata (`live`). */
    activeColor: Color;
    /** How to run the PhysioFlow CLI. Default `node bin/physioflow.js`. */
    cli?: string;
}

/**
 * Backup, then migrate: both run only when the migration target or the migration files change
 * (their `triggers` replace them), and never in a preview. Any other change of their inputs (a
 * rotated password, other backup settings) is an in-place update that runs read-only commands:
 * the newest archive is reported again and `migrate version` is run, so nothing is backed up or
 * migrated and the preview says `update`, not `replace`. A failed backup stops the update before
 * the migration; a failed migration stops it before any Deployment that depends on this component.
 */
export class DatabaseRelease extends pulumi.ComponentResource {
    /** The migration version the database is at after this update (from `migrate version`). */
    public readonly appliedVersion: pulumi.Output<string>;
    /** Path of the backup archive taken before the last migration. */
    public readonly backupArchive: pulumi.Output<string>;

    constructor(name: string, args: DatabaseReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:db:DatabaseRelease", name, {}, opts);
        if (!/^\d{3}$/.test(args.migrationTarget)) {
            throw new pulumi.ResourceError(`${name}: migrationTarget is "${args.migrationTarget}"; use a three-digit version like 015`, this);
        }
        const cli = args.cli ?? defaultCli;
        const environment = {
            PGHOST: args.host,
            PGPORT: pulumi.output(args.port).apply(String),
            PGDATABASE: args.database,
            PGUSER: args.user,
            PGPASSWORD: pulumi.secret(args.password),
            PGSSLMODE: args.sslMode,
        };
        const triggers = [args.migrationTarget, args.migrationsChecksum];
        const upload = args.backupUpload;
        const uploadEnvironment: Record<string, pulumi.Input<string>> = upload === undefined
            ? {}
            : {
                  S3_ENDPOINT: upload.endpoint,
                  S3_BUCKET: upload.bucket,
                  S3_REGION: upload.region,
                  S3_MONTHLY_MONTHS: String(upload.monthlyKeepMonths),
                  S3_COLD_STORAGE_CLASS: upload.coldStorageClass ?? "none",
                  S3_ACCESS_KEY_ID: pulumi.secret(upload.accessKeyId),
                  S3_SECRET_ACCESS_KEY: pulumi.secret(upload.secretAccessKey),
              };

        const label = `pre-migrate-${args.migrationTarget}`;
        const backup = new command.local.Command(
            `${name}-backup`,
            {
                // A release or a color flip changes the recorded colors in this command line: an in-place update
                // that runs `update` (read-only), never the backup; only `triggers` replace the command and run it.
                create: backupCommand({
                    cli,
                    backupDir: args.backupDir,
                    environment: args.environment,
                    label,
                    upload: upload !== undefined,
                    colorTags: args.colorTags,
                    activeColor: args.activeColor,
                }),
                update: latestBackupCommand({ backupDir: args.backupDir, environment: args.environment, label }),
                environment: { ...environment, ...uploadEnvironment },
                triggers,
            },
            { parent: this },
        );

        const migrate = new command.local.Command(
            `${name}-migrate`,
            {
                create: migrateCommand(cli, args.migrationsDir, args.migrationTarget),
                update: migrateVersionCommand(cli, args.migrationsDir),
                environment,
                triggers,
            },
            { parent: this, dependsOn: [backup] },
        );

        this.backupArchive = backup.stdout.apply(lastLine);
        this.appliedVersion = migrate.stdout.apply(lastLine);
        this.registerOutputs({ backupArchive: this.backupArchive, appliedVersion: this.appliedVersion });
    }
}
