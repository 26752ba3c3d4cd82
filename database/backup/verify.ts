import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { OperationError, UsageError } from "../errors";
import { NO_VERSION } from "../migrations/files";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { unpackArchive } from "./archive";
import { BackupMetadata, DUMP_FILE, METADATA_FILE, parseBackupMetadata } from "./metadata";
import { findPgTool, runTool } from "./pgTools";

/** An archive that passed every check, unpacked in a temp dir until `cleanup()`. */
export interface VerifiedArchive {
    /** The archive. */
    archivePath: string;
    /** Its metadata.json. */
    metadata: BackupMetadata;
    /** The unpacked pg_dump custom-format file. */
    dumpPath: string;
    /** Number of entries in the dump's table of contents. */
    tocEntries: number;
    /** Migration head found in the dump's schema_migrations data ("000" if none). */
    dumpMigrationVersion: string;
    /** Deletes the unpacked files. */
    cleanup(): Promise<void>;
}

/** What `backup verify` reports. */
export type VerifyReport = Omit<VerifiedArchive, "cleanup" | "dumpPath">;

/**
 * Re-checks an archive end to end: it unpacks to exactly metadata.json and
 * database.dump, the metadata is well-formed, the dump's size and sha256 match
 * it, `pg_restore --list` reads the dump, and the schema_migrations head inside
 * the dump equals metadata.migration_version.
 */
export async function verifyBackup(archivePath: string, progress: Progress = silentProgress): Promise<VerifyReport> {
    const verified = await openVerifiedArchive(archivePath, progress);
    await verified.cleanup();
    const { cleanup: _cleanup, dumpPath: _dumpPath, ...report } = verified;
    return report;
}

/** Like {@link verifyBackup} but keeps the unpacked dump for a restore; call `cleanup()` afterwards. */
export async function openVerifiedArchive(archivePath: string, progress: Progress = silentProgress): Promise<VerifiedArchive> {
    const started = Date.now();
    let stat: import("fs").Stats;
    try {
        stat = await fs.stat(archivePath);
    } catch {
        throw new UsageError(`backup archive not found: ${archivePath}`);
    }
    if (!stat.isFile()) {
        throw new UsageError(`not a file: ${archivePath}`);
    }
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), "physioflow-verify-"));
    const cleanup = () => fs.rm(workDir, { recursive: true, force: true });
    try {
        await unpackArchive(archivePath, workDir);
        const metadata = await readMetadata(archivePath, path.join(workDir, METADATA_FILE));
        const dumpPath = path.join(workDir, DUMP_FILE);
        const dumpStat = await fs.stat(dumpPath);
        if (dumpStat.size !== metadata.dump_size_bytes) {
            throw new OperationError(
                `${archivePath} is damaged: ${DUMP_FILE} is ${dumpStat.size} bytes but metadata.json says ${metadata.dump_size_bytes}; refusing it`,
            );
        }
        const sha256 = await sha256File(dumpPath);
        if (sha256 !== metadata.dump_sha256) {
            throw new OperationError(`${archivePath} is damaged: sha256 of ${DUMP_FILE} is ${sha256} but metadata.json says ${metadata.dump_sha256}; refusing it`);
        }
        const dumpMajor = Number(/(\d+)(?:\.\d+)?/.exec(metadata.pg_dump_version)?.[1] ?? 0);
        const pgRestore = await findPgTool("pg_restore", dumpMajor);
        let toc: string;
        try {
            toc = (await runTool(pgRestore, ["--list", dumpPath], { env: process.env })).stdout;
        } catch (error) {
            throw new OperationError(`${archivePath} is damaged: pg_restore cannot read its dump (${(error as Error).message})`);
        }
        const tocEntries = toc.split("\n").filter((line) => line.trim() !== "" && !line.startsWith(";")).length;
        const data = await runTool(pgRestore, ["--data-only", "--table=schema_migrations", "--file=-", dumpPath], { env: process.env });
        const dumpMigrationVersion = migrationVersionFromDumpSql(data.stdout);
        if (dumpMigrationVersion !== metadata.migration_version) {
            throw new OperationError(
                `${archivePath}: metadata.json says migration version ${metadata.migration_version} but the dump's schema_migrations is at ${dumpMigrationVersion}; refusing a mismatching archive`,
            );
        }
        progress.line(
            `backup: verified ${archivePath}: ${formatBytes(dumpStat.size)} dump, sha256 ok, ${tocEntries} TOC entries, migration ${dumpMigrationVersion}, in ${formatDuration(Date.now() - started)}`,
        );
        return { archivePath, metadata, dumpPath, tocEntries, dumpMigrationVersion, cleanup };
    } catch (error) {
        await cleanup();
        throw error;
    }
}

/**
 * Highest `version` in the `COPY ... schema_migrations (...) FROM stdin;` block
 * of a pg_restore SQL script; "000" when there is no such block or no row.
 */
export function migrationVersionFromDumpSql(sql: string): string {
    const lines = sql.split("\n");
    let column = -1;
    let head = NO_VERSION;
    for (const line of lines) {
        if (column < 0) {
            const copy = /^COPY\s+(?:[\w"]+\.)?"?schema_migrations"?\s*\(([^)]*)\)\s+FROM\s+stdin;/i.exec(line);
            if (copy) {
                column = copy[1].split(",").map((c) => c.trim().replace(/"/g, "")).indexOf("version");
                if (column < 0) {
                    return head;
                }
            }
            continue;
        }
        if (line === "\\.") {
            break;
        }
        const version = line.split("\t")[column];
        if (version !== undefined && version > head) {
            head = version;
        }
    }
    return head;
}

async function readMetadata(archivePath: string, file: string): Promise<BackupMetadata> {
    let json: unknown;
    try {
        json = JSON.parse(await fs.readFile(file, "utf8"));
    } catch {
        throw new OperationError(`${archivePath} is damaged: metadata.json is not valid JSON`);
    }
    try {
        return parseBackupMetadata(json);
    } catch (error) {
        throw new OperationError(`${archivePath} is damaged: ${(error as Error).message}`);
    }
}

/** sha256 (hex) of a file, streamed. */
export function sha256File(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(file)
            .on("data", (chunk) => hash.update(chunk))
            .on("error", reject)
            .on("end", () => resolve(hash.digest("hex")));
    });
}
