import { promises as fs } from "fs";
import * as path from "path";
import { serverMajorVersion, withClient } from "../client";
import { ConnectionSettings, childProcessEnv } from "../connection";
import { OperationError } from "../errors";
import { readCurrentVersion } from "../migrations/history";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { ensurePrivateDir, packArchive } from "./archive";
import { backupArchiveName, checkEnvironmentName, checkLabel } from "./archiveName";
import { BACKUP_FORMAT, BackupColorState, BackupMetadata, DUMP_FILE } from "./metadata";
import { findPgTool, runTool } from "./pgTools";
import { DEFAULT_KEEP, checkKeep, pruneBackups } from "./retention";
import { S3Settings, UploadedBackup, uploadBackup } from "./s3";
import { checkDump, verifyWrittenArchive } from "./verify";

/** Options of `backup create`. */
export interface CreateBackupOptions {
    /** Database to dump. */
    connection: ConnectionSettings;
    /** Directory for the archive (created if missing). */
    outDir: string;
    /** dev, staging, prod, ... Default "local". */
    environment?: string;
    /** e.g. "pre-deploy-v1.2.3". Default "manual". */
    label?: string;
    /** Image tags to record, e.g. { api: "v1.2.3" }. Default: the live color's tag for api and web when `colors` is given, else none. */
    imageTags?: Record<string, string>;
    /** Both colors' tags and which one was live, recorded as `colors` and `live` (what a restore brings back). Default: not recorded. */
    colors?: BackupColorState;
    /** Keep this many newest archives per environment in `outDir`, pruning older ones after the new one is verified (and uploaded, with `upload`). Default 10. */
    keep?: number;
    /** False: prune nothing, whatever `keep` says (a restore's safety backup: the archive being restored may be the oldest). Default true. */
    prune?: boolean;
    /** Upload the verified archive to this S3-compatible store. */
    upload?: S3Settings;
    /** Progress lines. Default: silent. */
    progress?: Progress;
    /** Clock, for tests. */
    now?: () => Date;
}

/** What `backup create` produced. */
export interface CreatedBackup {
    /** Path of the verified archive. */
    archivePath: string;
    /** Its metadata. */
    metadata: BackupMetadata;
    /** Archives deleted by retention. */
    pruned: string[];
    /** Where it was uploaded, when asked to. */
    uploaded?: UploadedBackup;
}

/**
 * pg_dump (custom format) → archive with metadata.json, hashed while it is
 * written, while pg_restore checks the dump's TOC and migration version →
 * the archive read back and checked against that → optional upload → prune
 * older archives. An archive that fails verification is deleted; a failed
 * verification or upload prunes nothing. Archives are 0600 in a 0700 folder.
 */
export async function createBackup(options: CreateBackupOptions): Promise<CreatedBackup> {
    const progress = options.progress ?? silentProgress;
    const environment = checkEnvironmentName(options.environment ?? "local");
    const label = checkLabel(options.label ?? "manual");
    const keep = checkKeep(options.keep ?? DEFAULT_KEEP);
    const createdAt = new Date(Math.floor((options.now ?? (() => new Date()))().getTime() / 1000) * 1000);

    const server = await withClient(options.connection, "physioflow-backup", async client => ({
        ...(await serverMajorVersion(client)),
        migrationVersion: await readCurrentVersion(client),
        database: (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db,
    }));
    const pgDump = await findPgTool("pg_dump", server.major);

    const folder = await ensurePrivateDir(options.outDir);
    if (folder.tightenedFrom !== undefined) {
        progress.line(`backup: made ${options.outDir} private (was ${folder.tightenedFrom.toString(8)}, now 700): it holds patient data`);
    } else if (folder.notOurs !== undefined) {
        progress.line(
            `backup: warning: ${options.outDir} is mode ${folder.notOurs.toString(8)} and not this user's to make private; the archive itself is 600`,
        );
    }
    const archivePath = path.join(options.outDir, backupArchiveName({ environment, label, createdAt }));
    try {
        await fs.access(archivePath);
        throw new OperationError(`${archivePath} already exists; wait a second or use another --label`);
    } catch (error) {
        if (error instanceof OperationError) {
            throw error;
        }
    }
    const workDir = await fs.mkdtemp(path.join(options.outDir, ".backup-"));
    let metadata: BackupMetadata;
    try {
        const dumpPath = path.join(workDir, DUMP_FILE);
        const started = Date.now();
        progress.line(`backup: pg_dump ${server.database} (server ${server.version}, migration ${server.migrationVersion}) ...`);
        await runTool(pgDump, ["--format=custom", "--no-password", `--file=${dumpPath}`], {
            env: childProcessEnv(options.connection),
        });
        const size = (await fs.stat(dumpPath)).size;
        progress.line(`backup: pg_dump ${server.database} ... ${formatBytes(size)} in ${formatDuration(Date.now() - started)}`);

        // The dump's TOC and schema_migrations are checked while the archive is written; both read only the dump's header and one table.
        const dumpChecks = checkDump(dumpPath, pgDump.major, server.migrationVersion).catch((error: Error) => error);
        const packed = Date.now();
        const written = await packArchive(
            dumpPath,
            dump => {
                metadata = {
                    format: BACKUP_FORMAT,
                    environment,
                    database: server.database,
                    label,
                    created_at: createdAt.toISOString(),
                    migration_version: server.migrationVersion,
                    image_tags: options.imageTags ?? liveImageTags(options.colors),
                    ...(options.colors === undefined ? {} : { colors: { ...options.colors.colors }, live: options.colors.live }),
                    server_version: server.version,
                    pg_dump_version: pgDump.version,
                    dump_file: DUMP_FILE,
                    dump_size_bytes: dump.dumpSize,
                    dump_sha256: dump.dumpSha256,
                };
                return `${JSON.stringify(metadata, null, 2)}\n`;
            },
            archivePath,
        );
        progress.line(`backup: wrote ${archivePath} (sha256 ${written.dumpSha256.slice(0, 12)}…) in ${formatDuration(Date.now() - packed)}`);
        try {
            const checked = await dumpChecks;
            if (checked instanceof Error) {
                throw checked;
            }
            // The archive as stored, read back: it must hold exactly the bytes pg_restore just read.
            const report = await verifyWrittenArchive(archivePath, checked, progress);
            metadata = report.metadata;
        } catch (error) {
            await fs.rm(archivePath, { force: true });
            throw new OperationError(`the new backup failed verification and was deleted; nothing was pruned: ${(error as Error).message}`);
        }
    } finally {
        await fs.rm(workDir, { recursive: true, force: true });
    }

    // Retention only once the new archive is safely stored: verified here, and uploaded when asked to.
    let uploaded: UploadedBackup | undefined;
    if (options.upload) {
        try {
            uploaded = await uploadBackup(archivePath, metadata!, options.upload, progress);
        } catch (error) {
            throw new OperationError(`${(error as Error).message}; nothing was pruned`, { cause: error });
        }
    }
    const pruned = options.prune === false ? [] : await pruneBackups(options.outDir, keep, progress);
    return { archivePath, metadata: metadata!, pruned, uploaded };
}

/** The live color's tag as `image_tags` (what archives recorded before `colors`, and older readers still read). */
function liveImageTags(state: BackupColorState | undefined): Record<string, string> {
    if (state === undefined) return {};
    const tag = state.colors[state.live];
    return { api: tag, web: tag };
}
