import { execFile } from "child_process";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { serverMajorVersion, withClient } from "../client";
import { ConnectionSettings, childProcessEnv, describeConnection } from "../connection";
import { OperationError } from "../errors";
import { readCurrentVersion } from "../migrations/history";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { fanOut, readArchive } from "./archive";
import { PgTool, findPgTool, startTool } from "./pgTools";
import { createBackup } from "./create";
import { BackupMetadata } from "./metadata";
import { markArchiveKept } from "./retention";
import { checkContents, dumpMajorOf, readArchiveMetadata } from "./verify";

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
 * Restores an archive into the target database as one transaction: read its metadata (refusing
 * an unreadable or foreign archive before connecting for writes), refuse one of another database or environment unless allowed,
 * confirm, mark the archive kept (`<archive>.keep`, so retention never prunes it), take the safety backup when asked, drop the schemas the dump holds (plus public) so nothing
 * from after the backup survives, replay the dump, and check inside the same
 * transaction that schema_migrations is at the archive's version. The dump is hashed while it
 * streams into the restore, and the transaction commits only if it matched its sha256 (see
 * {@link streamRestore}). Any failure rolls everything back and leaves the target as it was.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreReport> {
    const progress = options.progress ?? silentProgress;
    // Read before the dump and trusted only once the dump has streamed by and hashed to its sha256.
    const metadata = await readArchiveMetadata(options.archivePath);
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
    const dumpMajor = dumpMajorOf(metadata);
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
            progress.line(`backup: WARNING: could not mark ${options.archivePath} kept (${error.message}); retention may prune it later, copy it elsewhere`),
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
    progress.line(
        `backup: restoring ${options.archivePath} into ${summary.target} (at ${target.currentVersion}, archive at ${metadata.migration_version}), one transaction, committed only if every byte of the dump matches its sha256 ...`,
    );
    try {
        await streamRestore({
            archivePath: options.archivePath,
            metadata,
            pgRestore,
            psql,
            env: childProcessEnv(options.connection),
            lockTimeoutMs: options.lockTimeoutMs ?? 60_000,
            progress,
        });
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
            (await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows[0].n,
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
}

/** What {@link streamRestore} needs. */
interface StreamRestore {
    archivePath: string;
    /** The archive's metadata as read before the dump (checked again against the stream). */
    metadata: BackupMetadata;
    pgRestore: PgTool;
    psql: PgTool;
    /** psql's environment (the target's connection). */
    env: NodeJS.ProcessEnv;
    lockTimeoutMs: number;
    progress: Progress;
}

/** How often a long restore says how far it got. */
const PROGRESS_EVERY_MS = 10_000;

/** `application_name` of the psql session a restore runs in. */
export const RESTORE_APPLICATION_NAME = "physioflow-restore";

/**
 * One read of the archive, nothing unpacked: the dump streams to two pg_restore processes (the
 * table of contents, for the schemas the header drops; the SQL script) while it is hashed. The
 * script goes from pg_restore to psql through a FIFO of their own (a private temp dir), not
 * through this process: psql's stdin gets `BEGIN`, the header and `\i FIFO`, and the trailer
 * (the migration check) and `COMMIT` only once pg_restore exited 0 (its whole script written
 * into the FIFO) and the archive read to its end matched its metadata (size, sha256, the same
 * metadata.json). psql reads its stdin in order, so the COMMIT runs only after the whole script.
 * Anything else kills psql before it ever reads a `COMMIT`, and PostgreSQL rolls the transaction
 * back; so does the end of psql's stdin if this process dies.
 */
async function streamRestore(run: StreamRestore): Promise<void> {
    const fifoDir = await fs.mkdtemp(path.join(os.tmpdir(), "physioflow-restore-"));
    try {
        const fifo = path.join(fifoDir, "script.sql");
        if (!/^[\w./-]+$/.test(fifo)) throw new OperationError(`the temp directory ${fifoDir} has a name psql's \\i cannot take; set TMPDIR`);
        await makeFifo(fifo);
        await restoreThrough(run, fifo);
    } finally {
        await fs.rm(fifoDir, { recursive: true, force: true });
    }
}

async function restoreThrough(run: StreamRestore, fifo: string): Promise<void> {
    const { archivePath, metadata, progress } = run;
    const psql = startTool(run.psql, ["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1"], { env: { ...run.env, PGAPPNAME: RESTORE_APPLICATION_NAME } });
    const list = startTool(run.pgRestore, ["--list"], { env: process.env });
    const script = startTool(run.pgRestore, ["--no-owner", `--file=${fifo}`], { env: process.env });
    let read = 0;
    const ticker = setInterval(
        () => progress.line(`backup: restoring ... ${formatBytes(read)} of ${formatBytes(metadata.dump_size_bytes)} of the dump read`),
        PROGRESS_EVERY_MS,
    );
    ticker.unref();
    const reading = readArchive(archivePath, { dumpTo: fanOut([list.stdin, script.stdin]), onDumpBytes: bytes => (read = bytes) }).then(contents =>
        checkContents(archivePath, contents, metadata),
    );
    reading.catch(() => undefined); // awaited below, success or not
    // psql ending before it was given the COMMIT is a failure (a lock timeout, an SQL error): it stops the rest.
    const psqlEndedEarly = psql.done.then(() => {
        throw new OperationError("psql ended before the restore was complete");
    });
    psqlEndedEarly.catch(() => undefined); // only raced, never awaited after the COMMIT was sent
    try {
        await Promise.race([
            psqlEndedEarly,
            (async () => {
                const toc = await list.done.catch((error: Error) => {
                    throw new OperationError(`${archivePath} is damaged: pg_restore cannot read its dump (${error.message})`);
                });
                psql.stdin.write(`BEGIN;\n${restoreHeaderSql(schemasInToc(toc.stdout), run.lockTimeoutMs)}\\i '${fifo}'\n`);
                await Promise.all([reading, script.done]);
            })(),
        ]);
    } catch (error) {
        psql.kill();
        list.kill();
        script.kill();
        // A damaged archive is the cause to report, whatever it made pg_restore or psql say first.
        await reading;
        throw error;
    } finally {
        clearInterval(ticker);
    }
    // Every byte checked out and pg_restore wrote its whole script: only now may psql read the COMMIT (behind the script).
    psql.stdin.end(`${restoreTrailerSql(metadata.migration_version)}COMMIT;\n`);
    progress.line(`backup: dump read and checked (sha256 ok); pg_restore wrote its whole script, psql runs it, then the migration check and COMMIT`);
    await psql.done;
}

/** Makes a FIFO (mode 0600) at `file`. */
function makeFifo(file: string): Promise<void> {
    return new Promise((resolve, reject) =>
        execFile("mkfifo", ["-m", "600", file], error =>
            error ? reject(new OperationError(`could not make a FIFO for the restore (mkfifo): ${error.message}`)) : resolve(),
        ),
    );
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
        RAISE EXCEPTION 'metadata.json says migration version ${version} but the dump''s schema_migrations is at %; refusing a mismatching archive', restored;
    END IF;
END $$;
`;
}

function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}
