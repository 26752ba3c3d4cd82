/**
 * The backup store in the incident path: archives listed side by side (this machine's folder, the
 * store's 30-day prefix and its monthly copies), one downloaded and verified before it counts, and
 * `latest` or `s3://bucket/key` resolved to a verified archive on this machine for a restore.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import { createWriteStream, promises as fs } from "fs";
import * as path from "path";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import { OperationError, UsageError } from "../errors";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { PRIVATE_FILE_MODE, ensurePrivateDir } from "./archive";
import { parseBackupArchiveName } from "./archiveName";
import { S3Settings, describeImageTags, describeObject, s3Client } from "./s3";
import { DEFAULT_BACKUP_PREFIX, MONTHLY_BACKUP_PREFIX } from "./storeLayout";
import { VerifyReport, readArchiveMetadata, sha256File, verifyBackup } from "./verify";

/** Where a listed archive is: this machine's folder, the store's 30-day prefix, or its monthly copies. */
export type ArchivePlace = "local" | "store" | "monthly";

/** One archive as `backup list` shows it. */
export interface ListedArchive {
    place: ArchivePlace;
    /** The file path, or `s3://bucket/key`. */
    location: string;
    /** The key in the store (stored archives only). */
    key?: string;
    name: string;
    environment: string;
    label: string;
    createdAt: Date;
    /** The archive's migration version; "?" when it could not be read. */
    migrationVersion: string;
    /** The recorded image tags ({@link describeImageTags}); "-" for none, "?" when unknown. */
    tags: string;
    size: number;
}

/** The archives in `dir` (of `environment`, when given), with what their metadata.json says; a missing folder holds none. */
export async function listLocalArchives(dir: string, environment?: string): Promise<ListedArchive[]> {
    let names: string[];
    try {
        names = await fs.readdir(dir);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
    }
    const listed: ListedArchive[] = [];
    for (const name of names) {
        const parts = parseBackupArchiveName(name);
        if (parts === undefined || (environment !== undefined && parts.environment !== environment)) continue;
        const location = path.join(dir, name);
        const size = (await fs.stat(location)).size;
        const metadata = await readArchiveMetadata(location).catch(() => undefined);
        listed.push({
            place: "local",
            location,
            name,
            ...parts,
            migrationVersion: metadata?.migration_version ?? "?",
            tags: metadata === undefined ? "?" : describeImageTags(metadata),
            size,
        });
    }
    return listed;
}

/** The store's archives (of `environment`, when given) under its prefix and under monthly/, with the metadata each upload recorded. */
export async function listStoredArchives(settings: S3Settings, environment?: string): Promise<ListedArchive[]> {
    const client = s3Client(settings);
    try {
        const listed: ListedArchive[] = [];
        for (const [place, prefix] of [
            ["store", settings.prefix ?? DEFAULT_BACKUP_PREFIX],
            ["monthly", MONTHLY_BACKUP_PREFIX],
        ] as const) {
            for (const object of await listObjects(client, settings.bucket, prefix)) {
                const name = path.posix.basename(object.key);
                const parts = parseBackupArchiveName(name);
                if (parts === undefined || (environment !== undefined && parts.environment !== environment)) continue;
                const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: object.key }));
                listed.push({
                    place,
                    location: `s3://${settings.bucket}/${object.key}`,
                    key: object.key,
                    name,
                    ...parts,
                    migrationVersion: head.Metadata?.["migration-version"] ?? "?",
                    tags: head.Metadata?.["image-tags"] ?? "?",
                    size: object.size,
                });
            }
        }
        return listed;
    } catch (error) {
        throw new OperationError(`cannot list ${describeObject(settings, "")}: ${(error as Error).message}`, { cause: error });
    } finally {
        client.destroy();
    }
}

async function listObjects(client: S3Client, bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
    const objects: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of page.Contents ?? []) objects.push({ key: object.Key ?? "", size: object.Size ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects;
}

/** Newest first (by the time in the name); for the same time, local before the store before monthly copies. Pure. */
export function sortArchives(archives: readonly ListedArchive[]): ListedArchive[] {
    const order: ArchivePlace[] = ["local", "store", "monthly"];
    return [...archives].sort(
        (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || order.indexOf(a.place) - order.indexOf(b.place) || a.name.localeCompare(b.name),
    );
}

/** `backup list`'s table: a header, then one aligned line per archive, newest first. Pure. */
export function formatArchiveList(archives: readonly ListedArchive[]): string[] {
    const rows = [
        ["where", "taken (UTC)", "env", "label", "migration", "tags", "size", "archive"],
        ...sortArchives(archives).map(a => [
            a.place,
            a.createdAt.toISOString().slice(0, 19).replace("T", " "),
            a.environment,
            a.label,
            a.migrationVersion,
            a.tags,
            formatBytes(a.size),
            a.location,
        ]),
    ];
    const widths = rows[0].map((_, column) => Math.max(...rows.map(row => row[column].length)));
    return rows.map(row => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  "));
}

/** `s3://bucket/key` as its parts; undefined for anything else. */
export function parseS3Url(text: string): { bucket: string; key: string } | undefined {
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(text);
    return match ? { bucket: match[1], key: match[2] } : undefined;
}

/**
 * The stored archive `spec` names: `s3://bucket/key` (the store's endpoint and keys, that bucket),
 * `latest` (the newest of `environment`, the 30-day prefix or a monthly copy), or an archive's file
 * name (under the prefix, else among the monthly copies). Throws a usage error naming what exists
 * when nothing matches.
 */
export async function resolveStoredArchive(settings: S3Settings, spec: string, environment?: string): Promise<{ settings: S3Settings; key: string }> {
    const url = parseS3Url(spec);
    if (url !== undefined) return { settings: { ...settings, bucket: url.bucket }, key: url.key };
    if (spec.startsWith("s3://")) throw new UsageError(`"${spec}" is not an s3://bucket/key URL of an archive`);
    const stored = sortArchives(await listStoredArchives(settings, environment));
    const found = spec === "latest" ? stored[0] : stored.find(archive => archive.name === spec);
    if (found === undefined) {
        const what = spec === "latest" ? `no archive${environment === undefined ? "" : ` of ${environment}`}` : `no archive named ${spec}`;
        throw new UsageError(`${what} in ${describeObject(settings, "")} (under ${settings.prefix ?? DEFAULT_BACKUP_PREFIX} or ${MONTHLY_BACKUP_PREFIX})`);
    }
    return { settings, key: found.key! };
}

/** A downloaded archive, verified. */
export interface FetchedArchive extends VerifyReport {
    /** Where it was: `s3://bucket/key`. */
    source: string;
    /** True when the same archive (same sha256) was already in the folder, and nothing was downloaded. */
    alreadyHere: boolean;
}

/**
 * Downloads `key` into `outDir` under its own name (0600, the folder 0700): written under a
 * temporary name, checked against the size and `archive-sha256` the upload recorded, verified like
 * `backup verify` (sha256 of the dump, `pg_restore --list`, migration version), and only then
 * renamed into place. A download that fails or does not verify leaves nothing behind. An archive of
 * that name already in the folder is kept when its sha256 matches the stored one, and refused when not.
 */
export async function fetchStoredArchive(settings: S3Settings, key: string, outDir: string, progress: Progress = silentProgress): Promise<FetchedArchive> {
    const name = path.posix.basename(key);
    const source = `s3://${settings.bucket}/${key}`;
    if (parseBackupArchiveName(name) === undefined) throw new UsageError(`${source} is not a backup archive (<env>_<label>_<YYYYMMDD>_<HHMMSS>.tar.gz)`);
    await ensurePrivateDir(outDir);
    const archivePath = path.join(outDir, name);
    const partial = path.join(outDir, `.${name}.partial`);
    const client = s3Client(settings);
    const started = Date.now();
    try {
        const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
        const recorded = head.Metadata?.["archive-sha256"];
        if (await exists(archivePath)) {
            if (recorded === undefined || (await sha256File(archivePath)) !== recorded) {
                throw new UsageError(`${archivePath} exists and is not ${source}; move it away to fetch`);
            }
            progress.line(`backup: ${archivePath} is already here (sha256 matches ${source})`);
            return { ...(await verifyBackup(archivePath, progress)), source, alreadyHere: true };
        }
        // A partial file of a fetch that was killed is this command's to replace.
        await fs.rm(partial, { force: true });
        const object = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }));
        const hash = createHash("sha256");
        let size = 0;
        const tally = new Transform({
            transform(chunk: Buffer, _encoding, done) {
                hash.update(chunk);
                size += chunk.length;
                done(null, chunk);
            },
        });
        await pipeline(object.Body as Readable, tally, createWriteStream(partial, { flags: "wx", mode: PRIVATE_FILE_MODE }));
        await fs.chmod(partial, PRIVATE_FILE_MODE);
        if (size !== head.ContentLength) throw new Error(`downloaded ${size} bytes, the store holds ${head.ContentLength}`);
        const sha256 = hash.digest("hex");
        if (recorded !== undefined && sha256 !== recorded) throw new Error(`sha256 of the download is ${sha256} but the upload recorded ${recorded}`);
        const report = await verifyBackup(partial);
        await fs.rename(partial, archivePath);
        progress.line(
            `backup: fetched ${source} to ${archivePath} (${formatBytes(size)} in ${formatDuration(Date.now() - started)}), verified: ` +
                `sha256 ok, ${report.tocEntries} TOC entries, migration ${report.metadata.migration_version}`,
        );
        return { ...report, archivePath, source, alreadyHere: false };
    } catch (error) {
        await fs.rm(partial, { force: true });
        if (error instanceof UsageError) throw error;
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        const reason = status === 404 ? "the store has no such object" : (error as Error).message.replaceAll(partial, archivePath);
        throw new OperationError(`fetch of ${source} failed, nothing was kept: ${reason}`, { cause: error });
    } finally {
        client.destroy();
    }
}

async function exists(file: string): Promise<boolean> {
    return fs.access(file).then(
        () => true,
        () => false,
    );
}

/** Where `rollback --restore` and `backup fetch` look: this machine's folder, and the store when there is one. */
export interface ArchiveSources {
    /** This machine's backup folder (the stack's `backupDir`); fetched archives go there. */
    dir: string;
    /** Whose archives `latest` means. */
    environment: string;
    /** The store; undefined when the stack has none. */
    store?: S3Settings;
}

/** An archive `resolveRestoreArchive` found, and what to say should it not verify. */
export interface RestoreArchive {
    /** The archive on this machine. */
    archivePath: string;
    /**
     * With `latest`: the next newest archive of the environment (another name), as a line to add to
     * an error when the newest does not verify, e.g. `the next newest backup of prod is s3://…
     * (pre-deploy-v1.3.0, migration 006): rollback --restore s3://…`. Never used in its place: an
     * older backup loses more data, so a person chooses it.
     */
    ifDamaged?: string;
}

/**
 * `latest` or `s3://bucket/key` as a verified archive on this machine, for a restore: `latest` is the
 * newest archive of the environment in the folder or the store (one in the folder is used as it is,
 * verified by the restore; a stored one is fetched into the folder); an `s3://` URL is fetched.
 * Anything that fails throws before a restore could start, and leaves no partial file; a stored
 * `latest` that does not verify names the next newest archive in its error.
 */
export async function resolveRestoreArchive(spec: string, sources: ArchiveSources, progress: Progress = silentProgress): Promise<RestoreArchive> {
    if (spec !== "latest" && !spec.startsWith("s3://")) throw new UsageError(`"${spec}" is neither latest nor an s3://bucket/key URL`);
    if (spec.startsWith("s3://") && sources.store === undefined) {
        throw new UsageError(`${spec}: the stack has no backup store (backupS3Endpoint and its keys) to fetch it from`);
    }
    if (spec === "latest") {
        const candidates = sortArchives([
            ...(await listLocalArchives(sources.dir, sources.environment)),
            ...(sources.store === undefined ? [] : await listStoredArchives(sources.store, sources.environment)),
        ]);
        const newest = candidates[0];
        if (newest === undefined) {
            throw new UsageError(
                `no backup of ${sources.environment} in ${sources.dir}${sources.store === undefined ? "" : ` or ${describeObject(sources.store, "")}`}`,
            );
        }
        progress.line(`backup: the latest backup of ${sources.environment} is ${newest.location} (${newest.label}, migration ${newest.migrationVersion})`);
        const next = candidates.find(archive => archive.name !== newest.name);
        const ifDamaged =
            next === undefined
                ? `there is no older backup of ${sources.environment}`
                : `the next newest backup of ${sources.environment} is ${next.location} (${next.label}, migration ${next.migrationVersion}): rollback --restore ${next.location}`;
        if (newest.place === "local") return { archivePath: newest.location, ifDamaged };
        try {
            return { archivePath: (await fetchStoredArchive(sources.store!, newest.key!, sources.dir, progress)).archivePath, ifDamaged };
        } catch (error) {
            if (error instanceof Error) error.message = `${error.message}; ${ifDamaged}`;
            throw error;
        }
    }
    const { settings, key } = await resolveStoredArchive(sources.store!, spec);
    return { archivePath: (await fetchStoredArchive(settings, key, sources.dir, progress)).archivePath };
}
