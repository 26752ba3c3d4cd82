import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import { OperationError, UsageError } from "../errors";
import { NO_VERSION } from "../migrations/files";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { ArchiveContents, fanOut, readArchive, readMetadataJson } from "./archive";
import { BackupMetadata, DUMP_FILE, parseBackupMetadata } from "./metadata";
import { ToolOutput, findPgTool, runTool, startTool } from "./pgTools";

/** What `backup verify` reports. */
export interface VerifyReport {
    /** The archive. */
    archivePath: string;
    /** Its metadata.json. */
    metadata: BackupMetadata;
    /** Number of entries in the dump's table of contents. */
    tocEntries: number;
    /** Migration head found in the dump's schema_migrations data ("000" if none). */
    dumpMigrationVersion: string;
}

/**
 * Re-checks an archive end to end in one read, nothing unpacked to disk: it holds exactly
 * metadata.json and database.dump, the metadata is well-formed, the dump's size and sha256 match
 * it (hashed as it streams by), `pg_restore --list` reads the dump (fed from the same stream), and
 * the schema_migrations head inside the dump (a second pg_restore on the stream) equals
 * metadata.migration_version.
 */
export async function verifyBackup(archivePath: string, progress: Progress = silentProgress): Promise<VerifyReport> {
    const started = Date.now();
    const expected = await readArchiveMetadata(archivePath);
    const pgRestore = await findPgTool("pg_restore", dumpMajorOf(expected));
    const list = startTool(pgRestore, ["--list"], { env: process.env });
    const data = startTool(pgRestore, ["--data-only", "--table=schema_migrations", "--file=-"], { env: process.env });
    let contents: ArchiveContents;
    try {
        contents = await readArchive(archivePath, { dumpTo: fanOut([list.stdin, data.stdin]) });
    } catch (error) {
        list.kill();
        data.kill();
        throw error;
    }
    const metadata = checkContents(archivePath, contents, expected);
    const checked = await checkDumpOutput(list.done, data.done, metadata.migration_version, archivePath);
    progress.line(
        `backup: verified ${archivePath}: ${formatBytes(contents.dumpSize)} dump, sha256 ok, ${checked.tocEntries} TOC entries, migration ${checked.dumpMigrationVersion}, in ${formatDuration(Date.now() - started)}`,
    );
    return { archivePath, metadata, ...checked };
}

/** The pg_dump major that wrote an archive's dump (pg_restore must be at least as new). */
export function dumpMajorOf(metadata: BackupMetadata): number {
    return Number(/(\d+)(?:\.\d+)?/.exec(metadata.pg_dump_version)?.[1] ?? 0);
}

/** What pg_restore found in a dump. */
export interface DumpCheck {
    /** Number of entries in the dump's table of contents. */
    tocEntries: number;
    /** Migration head found in the dump's schema_migrations data ("000" if none). */
    dumpMigrationVersion: string;
}

/**
 * `pg_restore --list` reads the dump's TOC, and the schema_migrations head inside the dump must
 * be `expectedVersion`. Both pg_restore runs go at once: they read the header and one table's data.
 */
export async function checkDump(dumpPath: string, dumpMajor: number, expectedVersion: string, archivePath = dumpPath): Promise<DumpCheck> {
    const pgRestore = await findPgTool("pg_restore", dumpMajor);
    return checkDumpOutput(
        runTool(pgRestore, ["--list", dumpPath], { env: process.env }),
        runTool(pgRestore, ["--data-only", "--table=schema_migrations", "--file=-", dumpPath], { env: process.env }),
        expectedVersion,
        archivePath,
    );
}

/** The TOC count and migration check from the two pg_restore runs of {@link checkDump} (on a file or on a stream). */
async function checkDumpOutput(list: Promise<ToolOutput>, data: Promise<ToolOutput>, expectedVersion: string, archivePath: string): Promise<DumpCheck> {
    const [toc, migrations] = await Promise.all([
        list.catch((error: Error) => {
            throw new OperationError(`${archivePath} is damaged: pg_restore cannot read its dump (${error.message})`);
        }),
        data.catch((error: Error) => error),
    ]);
    if (migrations instanceof Error) {
        throw migrations;
    }
    const tocEntries = toc.stdout.split("\n").filter(line => line.trim() !== "" && !line.startsWith(";")).length;
    const dumpMigrationVersion = migrationVersionFromDumpSql(migrations.stdout);
    if (dumpMigrationVersion !== expectedVersion) {
        throw new OperationError(
            `${archivePath}: metadata.json says migration version ${expectedVersion} but the dump's schema_migrations is at ${dumpMigrationVersion}; refusing a mismatching archive`,
        );
    }
    return { tocEntries, dumpMigrationVersion };
}

/**
 * The check `backup create` runs on the archive it just wrote: the archive read back once
 * (members, metadata, size and sha256 of the dump, nothing written to disk), with the TOC and
 * migration checks `checked` that pg_restore already made on the dump the archive was written from
 * (the same bytes when the sha256 matches).
 */
export async function verifyWrittenArchive(archivePath: string, checked: DumpCheck, progress: Progress = silentProgress): Promise<VerifyReport> {
    const started = Date.now();
    const contents = await readArchive(archivePath);
    const metadata = checkContents(archivePath, contents);
    if (checked.dumpMigrationVersion !== metadata.migration_version) {
        throw new OperationError(
            `${archivePath}: metadata.json says migration version ${metadata.migration_version} but the dump's schema_migrations is at ${checked.dumpMigrationVersion}`,
        );
    }
    progress.line(
        `backup: verified ${archivePath}: ${formatBytes(contents.dumpSize)} dump, sha256 ok, ${checked.tocEntries} TOC entries, migration ${checked.dumpMigrationVersion}, in ${formatDuration(Date.now() - started)}`,
    );
    return { archivePath, metadata, ...checked };
}

/**
 * The metadata of an archive whose dump matches it in size and sha256; throws naming the mismatch.
 * `expected`: the metadata read before the dump (the same file read twice must say the same).
 */
export function checkContents(archivePath: string, contents: ArchiveContents, expected?: BackupMetadata): BackupMetadata {
    const metadata = readMetadata(archivePath, contents.metadataJson);
    if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(metadata)) {
        throw new OperationError(`${archivePath} is damaged: metadata.json changed between two reads of it; refusing it`);
    }
    if (contents.dumpSize !== metadata.dump_size_bytes) {
        throw new OperationError(
            `${archivePath} is damaged: ${DUMP_FILE} is ${contents.dumpSize} bytes but metadata.json says ${metadata.dump_size_bytes}; refusing it`,
        );
    }
    if (contents.dumpSha256 !== metadata.dump_sha256) {
        throw new OperationError(
            `${archivePath} is damaged: sha256 of ${DUMP_FILE} is ${contents.dumpSha256} but metadata.json says ${metadata.dump_sha256}; refusing it`,
        );
    }
    return metadata;
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
                column = copy[1]
                    .split(",")
                    .map(c => c.trim().replace(/"/g, ""))
                    .indexOf("version");
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

/**
 * An archive's metadata.json, read and checked without reading its dump where the layout allows
 * (a listing's read, or what a verify or restore checks before the dump streams by; not a
 * verification). A missing path or a folder is a usage error.
 */
export async function readArchiveMetadata(archivePath: string): Promise<BackupMetadata> {
    let stat: import("fs").Stats;
    try {
        stat = await fs.stat(archivePath);
    } catch {
        throw new UsageError(`backup archive not found: ${archivePath}`);
    }
    if (!stat.isFile()) {
        throw new UsageError(`not a file: ${archivePath}`);
    }
    return readMetadata(archivePath, await readMetadataJson(archivePath));
}

function readMetadata(archivePath: string, text: string): BackupMetadata {
    let json: unknown;
    try {
        json = JSON.parse(text);
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
            .on("data", chunk => hash.update(chunk))
            .on("error", reject)
            .on("end", () => resolve(hash.digest("hex")));
    });
}
