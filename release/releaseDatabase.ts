/**
 * The database side of a release: which migrations a deploy would apply and whether they pass the
 * blue-green lint (checked before anything changes, so a refused deploy takes no backup), and, for
 * a stack whose update does not migrate by itself (`local`), the backup and migration of the
 * release step. The stack's own DatabaseRelease does the same with the same code (database/).
 */
import * as path from "path";
import { checkMigrations, createBackup, currentMigrationVersion, loadMigrationSet, migrateUp, s3SettingsFromEnv } from "../database";
import type { S3Settings } from "../database";
import type { FileLintReport, MigrationFile } from "../database";
import { lintMigrationFiles } from "../database/lint/lintMigrations";
import { highestVersion } from "../database/migrations/files";
import { formatLintReport, summarizeLintFailures } from "../database/lint/rules";
import type { ReleaseDatabase } from "./types";
import { Color, otherColor } from "../components/colors";
import type { StackConfig } from "../components/config";
import type { StackSecretKey } from "./stackConfig";

/** What a release would apply to the database. */
export interface PendingMigrations {
    /** The database's migration version now. */
    current: string;
    /** Where the release takes it: the stack's `migrationTarget`, else the newest file. */
    target: string;
    /** The files between the two, oldest first. */
    pending: MigrationFile[];
    /** The blue-green lint of each pending file. */
    lint: FileLintReport[];
    /** What the runner would refuse (an edited applied file, a missing down script…), one message each. */
    problems: string[];
}

/** A pending migration would break the color that keeps serving during the release. */
export class MigrationLintError extends Error {
    constructor(readonly pendingMigrations: PendingMigrations) {
        super(
            `pending migration${pendingMigrations.pending.length === 1 ? "" : "s"} would break the live color: ` +
                `${summarizeLintFailures(pendingMigrations.lint)}; nothing changed, no backup taken (make it backward compatible, ` +
                `or add "-- physioflow:allow-breaking <reason>" to its header)`,
        );
        this.name = "MigrationLintError";
    }
}

/** Reads the database's version and lints the files a release would apply; changes nothing. */
export async function readPendingMigrations(db: ReleaseDatabase): Promise<PendingMigrations> {
    const [set, current, problems] = await Promise.all([
        loadMigrationSet(db.migrationsDir),
        currentMigrationVersion(db.connection),
        checkMigrations({ dir: db.migrationsDir, connection: db.connection }),
    ]);
    const newest = highestVersion(set.migrations.map(m => m.version));
    const target = db.migrationTarget ?? newest;
    const pending = set.migrations.filter(m => m.version > current && m.version <= target);
    return { current, target, pending, lint: await lintMigrationFiles(pending), problems: problems.map(problem => problem.message) };
}

/** One line for a person: what is pending and what the lint said. */
export function describePendingMigrations(p: PendingMigrations): string[] {
    if (p.pending.length === 0) return [`database at ${p.current}; no migration pending (target ${p.target})`];
    return [
        `database at ${p.current}; ${p.pending.length} migration(s) pending to ${p.target}: ${p.pending.map(m => path.basename(m.path)).join(", ")}`,
        ...formatLintReport(p.lint),
    ];
}

/** Refuses (throws) when the runner would refuse the files, or a pending file fails the lint. */
export function refuseBreakingMigrations(p: PendingMigrations): void {
    if (p.problems.length > 0) {
        throw new Error(`the migrations would be refused: ${p.problems.join("; ")}; nothing changed, no backup taken`);
    }
    if (p.lint.some(report => !report.ok)) throw new MigrationLintError(p);
}

/**
 * The release step's database half where the stack does not do it: a verified backup, then the
 * pending migrations (the runner lints again and takes its lock). Nothing pending: no backup.
 * The backup records both colors as the release step sets them (`live` keeps `liveTag`, the other
 * gets `tag`) and which is live, as the stack's own pre-migrate backups do.
 */
export async function backupAndMigrate(
    db: ReleaseDatabase,
    options: { tag: string; live: Color; liveTag: string; out: (line: string) => void },
): Promise<{ from: string; to: string; backup?: string }> {
    let backup: string | undefined;
    const progress = { line: (text: string) => options.out(text) };
    const migrated = await migrateUp({
        dir: db.migrationsDir,
        connection: db.connection,
        to: db.migrationTarget,
        progress,
        beforeChanges: async ({ to }) => {
            const created = await createBackup({
                connection: db.connection,
                outDir: db.backupDir,
                environment: db.environment,
                label: `pre-deploy-${options.tag}`,
                colors: { colors: { [options.live]: options.liveTag, [otherColor(options.live)]: options.tag } as Record<Color, string>, live: options.live },
                progress,
            });
            backup = created.archivePath;
            options.out(`backup: ${created.archivePath} (verified), before migrating to ${to}`);
        },
    });
    return { from: migrated.from, to: migrated.to, backup };
}

/**
 * The stack's database as its validated config names it (`database`: dbHost, dbPort, dbName,
 * dbUser, dbSslMode; `backupDir` with `$HOME` expanded; `environment`; `migrationTarget`; the
 * backup store, `backupUpload`), with its secrets (`dbPassword`, the store's keys) read where they
 * are used, by `secret` (release/stackConfig.ts's `stackSecret` over the stack's config).
 * Undefined without the password: the command cannot reach the database.
 */
export function releaseDatabaseFromConfig(
    settings: Pick<StackConfig, "database" | "environment" | "backupDir" | "migrationTarget" | "backupUpload">,
    secret: (key: StackSecretKey) => string | undefined,
    repoRoot: string,
    options: { migratesOutsideStack: boolean; host?: string; port?: number },
): ReleaseDatabase | undefined {
    const password = secret("dbPassword");
    if (password === undefined) return undefined;
    const backupDir = settings.backupDir.replace(/^\$HOME(?=\/|$)/, process.env.HOME ?? "~");
    return {
        connection: {
            host: options.host ?? settings.database.host,
            port: options.port ?? settings.database.port,
            user: settings.database.user,
            password,
            database: settings.database.name,
            sslmode: settings.database.sslMode,
        },
        migrationsDir: path.join(repoRoot, "migrations"),
        backupDir: path.resolve(repoRoot, backupDir),
        backupStore: backupStoreFromConfig(settings, secret),
        environment: settings.environment,
        migrationTarget: settings.migrationTarget,
        migratesOutsideStack: options.migratesOutsideStack,
    };
}

/**
 * The stack's backup store as the backup commands read it (the same `S3_*` the stack gives
 * `backup create`): its `backupUpload` and the store's key secrets; undefined without one or its keys.
 */
function backupStoreFromConfig(settings: Pick<StackConfig, "backupUpload">, secret: (key: StackSecretKey) => string | undefined): S3Settings | undefined {
    const upload = settings.backupUpload;
    const accessKeyId = secret("backupS3AccessKeyId");
    const secretAccessKey = secret("backupS3SecretAccessKey");
    if (upload === undefined || accessKeyId === undefined || secretAccessKey === undefined) return undefined;
    return s3SettingsFromEnv({
        S3_ENDPOINT: upload.endpoint,
        S3_BUCKET: upload.bucket,
        S3_REGION: upload.region,
        S3_ACCESS_KEY_ID: accessKeyId,
        S3_SECRET_ACCESS_KEY: secretAccessKey,
    });
}
