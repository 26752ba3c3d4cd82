import { promises as fs } from "fs";
import * as path from "path";
import { serverMajorVersion, withClient } from "../client";
import { ConnectionSettings, childProcessEnv, describeConnection } from "../connection";
import { OperationError } from "../errors";
import { readCurrentVersion } from "../migrations/history";
import { Progress, formatDuration, silentProgress } from "../progress";
import { findPgTool, runTool } from "./pgTools";
import { createBackup } from "./create";
import { BackupMetadata } from "./metadata";
import { markArchiveKept } from "./retention";
import { openVerifiedArchive } from "./verify";

/** What a person is asked to confirm before a restore. */
export interface RestoreSummary {
    archivePath: string;
    metadata: BackupMetadata;
    /** "user@host:port/db" of the target; no password. */
    target: string;
    /** Target database name (what the CLI asks to be typed). */
    database: string;
    /** Migration version of the target before the restore. */
    currentVersion: string;
    /** Where the safety backup of the target will go, when one is taken. */
    safetyBackupDir?: string;
}

/** Options of `backup restore`. */
export interface RestoreOptions {
    /** The archive to restore. */
    archivePath: string;
    /** Target database (replaced entirely by the archive's schemas and data). */
    connection: ConnectionSettings;
    /** Asked after every check passed and before anything changes; false cancels. */
    confirm: (summary: RestoreSummary) => Promise<boolean>;
    /** The target's environment: an archive of another one (e.g. prod into dev) is refused unless `allowOtherEnvironment`. */
    expectEnvironment?: string;
    /** Restore an archive whose environment differs from `expectEnvironment` (e.g. refreshing staging from prod). Default false. */
    allowOtherEnvironment?: boolean;
    /** Restore an archive taken of a database with another name than the target's. Default false: refused. */
    allowOtherDatabase?: boolean;
    /**
     * Take a verified backup of the target (label "pre-restore") after the
     * confirmation and before anything is replaced, into `outDir`; it never
     * prunes older archives. Default: none, for callers that took their own.
     */
    safetyBackup?: { outDir: string; /** Default `expectEnvironment`, else "local". */ environment?: string };
    /**
     * The command named in the archive's `.keep` mark, written after the confirmation and before
     * anything changes, so retention never prunes the archive a restore restored. Default "backup restore".
     */
    keptBy?: string;
    /** How long the restore waits for locks held by other sessions, in ms. Default 60 000. */
    lockTimeoutMs?: number;
    /** Progress lines. Default: silent. */
    progress?: Progress;
}

/** What a restore did. */
export interface RestoreReport {
    archivePath: string;
    /** Target database. */
    database: string;
    /** Migration version before. */
    previousVersion: string;
    /** Migration version after (equals the archive's). */
    migrationVersion: string;
    /** Tables in the restored database's schemas. */
    tables: number;
    /** Wall time of the restore itself. */
    durationMs: number;
    /** The verified backup of the target as it was, when `safetyBackup` asked for one. */
    safetyBackupPath?: string;
}

/**
 * Restores an archive into the target database as one transaction: verify
 * the archive (refusing a damaged or mismatching one before connecting for
 * writes), refuse one of another database or environment unless allowed,
 * confirm, mark the archive kept (`<archive>.keep`, so retention never prunes it), take the safety backup when asked, drop the schemas the dump holds (plus public) so nothing
 * from after the backup survives, replay the dump, and check inside the same
 * transaction that schema_migrations is at the archive's version. Any failure
 * rolls everything back and leaves the target as it was.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreReport> {
    const progress = options.progress ?? silentProgress;
    const archive = await openVerifiedArchive(options.archivePath, progress);
    try {
        const { metadata } = archive;
        if (options.expectEnvironment && options.expectEnvironment !== metadata.environment && !options.allowOtherEnvironment) {
            throw new OperationError(
                `${options.archivePath} is a backup of "${metadata.environment}", not "${options.expectEnvironment}"; refusing to restore it (--allow-other-env to restore it anyway)`,
            );
        }
        const target = await withClient(options.connection, "physioflow-restore", async client => ({
            ...(await serverMajorVersion(client)),
            currentVersion: await readCurrentVersion(client),
            database: (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db,
        }));
        if (metadata.database !== target.database && !options.allowOtherDatabase) {
            throw new OperationError(
                `${options.archivePath} is a backup of database "${metadata.database}", the target is "${target.database}"; refusing to restore it (--allow-other-database to restore it anyway)`,
            );
        }
        const dumpMajor = Number(/(\d+)(?:\.\d+)?/.exec(metadata.pg_dump_version)?.[1] ?? 0);
        // Same major for both: psql must understand every meta-command this pg_restore writes (e.g. \restrict).
        const toolMajor = Math.max(dumpMajor, target.major);
        const pgRestore = await findPgTool("pg_restore", toolMajor);
        const psql = await findPgTool("psql", pgRestore.major);

        const summary: RestoreSummary = {
            archivePath: options.archivePath,
            metadata,
            target: describeConnection(options.connection),
            database: target.database,
            currentVersion: target.currentVersion,
            safetyBackupDir: options.safetyBackup?.outDir,
        };
        if (!(await options.confirm(summary))) {
            throw new OperationError("restore cancelled; nothing was changed");
        }
        // Before anything changes: the database is about to depend on this archive, so no later backup's retention may delete it.
        await markArchiveKept(options.archivePath, options.keptBy ?? "backup restore").then(
            file => progress.line(`backup: marked ${options.archivePath} kept (${path.basename(file)}; delete it to let retention prune the archive)`),
            (error: Error) =>
                progress.line(
                    `backup: WARNING: could not mark ${options.archivePath} kept (${error.message}); retention may prune it later, copy it elsewhere`,
                ),
        );
        let safetyBackupPath: string | undefined;
        if (options.safetyBackup) {
            progress.line(`backup: safety backup of ${summary.database} as it is now, before it is replaced`);
            const safety = await createBackup({
                connection: options.connection,
                outDir: options.safetyBackup.outDir,
                environment: options.safetyBackup.environment ?? options.expectEnvironment,
                label: "pre-restore",
                // Never prune here: the archive being restored may be among the oldest in the same directory.
                prune: false,
                progress,
            }).catch((error: Error) => {
                throw new OperationError(`the safety backup of ${summary.database} failed, so nothing was restored: ${error.message}`, { cause: error });
            });
            safetyBackupPath = safety.archivePath;
        }

        const started = Date.now();
        const workDir = path.dirname(archive.dumpPath);
        const toc = (await runTool(pgRestore, ["--list", archive.dumpPath], { env: process.env })).stdout;
        const scriptPath = path.join(workDir, "restore.sql");
        // The whole script is written out first: a pg_restore that fails half-way must never feed psql a truncated script.
        await runTool(pgRestore, ["--no-owner", `--file=${scriptPath}`, archive.dumpPath], { env: process.env });
        const headerPath = path.join(workDir, "restore-header.sql");
        const trailerPath = path.join(workDir, "restore-trailer.sql");
        await fs.writeFile(headerPath, restoreHeaderSql(schemasInToc(toc), options.lockTimeoutMs ?? 60_000));
        await fs.writeFile(trailerPath, restoreTrailerSql(metadata.migration_version));
        progress.line(
            `backup: restoring ${options.archivePath} into ${summary.target} (at ${target.currentVersion}, archive at ${metadata.migration_version}) ...`,
        );
        try {
            await runTool(
                psql,
                ["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", headerPath, "-f", scriptPath, "-f", trailerPath],
                { env: childProcessEnv(options.connection) },
            );
        } catch (error) {
            const hint = /lock timeout/i.test((error as Error).message)
                ? "; other sessions hold locks: stop the API pods first (runbook: Rollback Procedures, scenario 2)"
                : "";
            const safety = safetyBackupPath ? `; safety backup ${safetyBackupPath}` : "";
            throw new OperationError(`restore failed and was rolled back, ${summary.database} is unchanged: ${(error as Error).message}${hint}${safety}`);
        }
        const durationMs = Date.now() - started;

        const after = await withClient(options.connection, "physioflow-restore", async client => ({
            version: await readCurrentVersion(client),
            tables: Number(
                (await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows[0]
                    .n,
            ),
        }));
        if (after.version !== metadata.migration_version) {
            throw new OperationError(
                `restored ${summary.database} reports migration ${after.version}, archive says ${metadata.migration_version}; investigate before deploying`,
            );
        }
        progress.line(`backup: restored ${summary.database} to migration ${after.version} (${after.tables} tables) in ${formatDuration(durationMs)}`);
        return {
            archivePath: options.archivePath,
            database: summary.database,
            previousVersion: target.currentVersion,
            migrationVersion: after.version,
            tables: after.tables,
            durationMs,
            safetyBackupPath,
        };
    } finally {
        await archive.cleanup();
    }
}

/** Schemas created by a dump, from its `pg_restore --list` output. */
export function schemasInToc(toc: string): string[] {
    const schemas = new Set<string>();
    for (const line of toc.split("\n")) {
        const match = /^\d+;\s+\d+\s+\d+\s+SCHEMA\s+-\s+(\S+)\s/.exec(line);
        if (match) {
            schemas.add(match[1]);
        }
    }
    return [...schemas].sort();
}

/**
 * SQL run first in the restore transaction: drop the dump's schemas and public
 * (with everything in them, including objects created after the backup) and
 * recreate public as PostgreSQL 15 creates it, unless the dump creates it.
 */
export function restoreHeaderSql(dumpSchemas: readonly string[], lockTimeoutMs: number): string {
    const schemas = [...new Set(["public", ...dumpSchemas])].sort();
    const lines = [
        `SET lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))};`,
        ...schemas.map(schema => `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE;`),
    ];
    if (!dumpSchemas.includes("public")) {
        lines.push(
            "CREATE SCHEMA public;",
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner') THEN ALTER SCHEMA public OWNER TO pg_database_owner; END IF; END $$;",
            "GRANT USAGE ON SCHEMA public TO PUBLIC;",
        );
    }
    return `${lines.join("\n")}\n`;
}

/** SQL run last in the restore transaction: abort unless schema_migrations is at `version`. */
export function restoreTrailerSql(version: string): string {
    return `RESET search_path;
DO $$
DECLARE restored text := '000';
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        EXECUTE 'SELECT coalesce(max(version::text), ''000'') FROM schema_migrations' INTO restored;
    END IF;
    IF restored IS DISTINCT FROM '${version}' THEN
        RAISE EXCEPTION 'restored schema_migrations is at %, the archive says ${version}; rolling back', restored;
    END IF;
END $$;
`;
}

function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}
