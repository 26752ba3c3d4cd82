import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import type { FileHandle } from "fs/promises";
import * as path from "path";
import { Socket } from "net";
import { Writable } from "stream";
import * as tar from "tar";
import { OperationError } from "../errors";
import { DUMP_FILE, METADATA_FILE } from "./metadata";
import { ArchiveContents, StoredGzipWriter, padding, readStoredArchive, readStoredMetadata, written } from "./storedArchive";

const MEMBERS = [METADATA_FILE, DUMP_FILE];
const BLOCK = 512;
/** Archives and the folders holding them are the owner's alone (patient data), whatever the umask. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
/** Bytes of the dump read at once while it is archived. */
const READ_SIZE = 1 << 20;

/** What was written. */
export interface WrittenArchive {
    /** Bytes of the dump inside the archive. */
    dumpSize: number;
    /** sha256 (hex) of those bytes, computed while they were copied. */
    dumpSha256: string;
}

/**
 * Writes `archivePath` (a gzipped tar: database.dump, then metadata.json) in one read of
 * `dumpPath`: the bytes are hashed as they are copied, and `metadataFor` receives the size and
 * sha256 to build metadata.json. The file is created 0600, under a temporary name, and renamed
 * into place only when complete, so a crash never leaves a half-written archive under the real name.
 */
export async function packArchive(dumpPath: string, metadataFor: (dump: WrittenArchive) => string, archivePath: string): Promise<WrittenArchive> {
    const partial = path.join(path.dirname(archivePath), `.${path.basename(archivePath)}.partial`);
    const dump = await fs.open(dumpPath, "r");
    let out: FileHandle | undefined;
    try {
        const { size } = await dump.stat();
        out = await fs.open(partial, "wx", PRIVATE_FILE_MODE);
        // What zlib writes at level 0 (a real .tar.gz: tar -xzf, the runbook's scripts), from memory
        // reused throughout (storedArchive.ts); pg_dump already compressed the dump.
        const gzip = new StoredGzipWriter(out);
        const hash = createHash("sha256");
        await gzip.add(tarHeader(DUMP_FILE, size));
        const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, Math.max(size, 1)));
        let copied = 0;
        for (;;) {
            const { bytesRead } = await dump.read(buffer, 0, buffer.length, copied);
            if (bytesRead === 0) break;
            const chunk = buffer.subarray(0, bytesRead);
            hash.update(chunk);
            await gzip.add(chunk);
            copied += bytesRead;
        }
        if (copied !== size) {
            throw new OperationError(`${dumpPath} changed while it was archived (${copied} bytes read, ${size} expected)`);
        }
        await gzip.add(Buffer.alloc(padding(size)));
        const written = { dumpSize: size, dumpSha256: hash.digest("hex") };
        const metadata = Buffer.from(metadataFor(written));
        await gzip.add(tarHeader(METADATA_FILE, metadata.length));
        await gzip.add(metadata);
        await gzip.add(Buffer.alloc(padding(metadata.length) + 2 * BLOCK));
        await gzip.finish();
        await out.close();
        out = undefined;
        await fs.chmod(partial, PRIVATE_FILE_MODE);
        await fs.rename(partial, archivePath);
        return written;
    } catch (error) {
        await out?.close().catch(() => undefined);
        await fs.rm(partial, { force: true });
        throw error;
    } finally {
        await dump.close();
    }
}

/** What one streaming read of an archive found (defined beside the stored-block reader, which returns it too). */
export type { ArchiveContents };

/**
 * Reads an archive once, start to end: checks that it holds exactly metadata.json and
 * database.dump as plain files (no paths, links or extras, in either order, so archives written
 * before the dump came first still read), hashes the dump as it streams by (unless `hashDump` is
 * false: a listing wants the metadata only, and `dumpSha256` is then ""), and writes it to
 * `dumpTo` when given (a verify or restore feeds pg_restore; `dumpTo` is ended after the dump,
 * and its backpressure paces the read). A damaged or foreign archive is refused with the reason.
 */
export async function readArchive(archivePath: string, options: ReadArchiveOptions = {}): Promise<ArchiveContents> {
    try {
        return (await readStoredArchive(archivePath, options)) ?? (await readTarGz(archivePath, options));
    } finally {
        // A dump that never came (or a read that failed) must still end what waits for it.
        if (options.dumpTo && !options.dumpTo.writableEnded) options.dumpTo.destroy();
    }
}

/** How {@link readArchive} reads. */
export interface ReadArchiveOptions {
    /** Where the dump goes as it is read (ended after it). */
    dumpTo?: Writable;
    /** False: do not hash the dump (`dumpSha256` is then ""). Default true. */
    hashDump?: boolean;
    /** Told the dump's bytes read so far. */
    onDumpBytes?: (bytes: number) => void;
}

/** {@link readArchive} through gunzip and a tar parser: any archive, in either member order. */
async function readTarGz(archivePath: string, options: ReadArchiveOptions): Promise<ArchiveContents> {
    const hashDump = options.hashDump ?? true;
    const seen: string[] = [];
    const unexpected: string[] = [];
    let metadataJson = "";
    let dumpSize = 0;
    const hash = createHash("sha256");
    const pending: Promise<void>[] = [];
    const parser = new tar.Parser({
        strict: true,
        onReadEntry: entry => {
            if (entry.type !== "File" || !MEMBERS.includes(entry.path) || seen.includes(entry.path)) {
                unexpected.push(`${entry.path} (${entry.type})`);
                entry.resume();
                return;
            }
            seen.push(entry.path);
            if (entry.path === METADATA_FILE) {
                const chunks: Buffer[] = [];
                entry.on("data", (chunk: Buffer) => chunks.push(chunk));
                entry.on("end", () => (metadataJson = Buffer.concat(chunks).toString("utf8")));
                return;
            }
            // One consumer of the entry: each chunk is hashed, counted and handed on, pausing the read while `dumpTo` is full.
            const dumpTo = options.dumpTo;
            entry.on("data", (chunk: Buffer) => {
                if (hashDump) hash.update(chunk);
                dumpSize += chunk.length;
                options.onDumpBytes?.(dumpSize);
                if (dumpTo && !dumpTo.write(chunk)) {
                    entry.pause();
                    dumpTo.once("drain", () => entry.resume());
                }
            });
            if (dumpTo) {
                pending.push(
                    new Promise<void>((resolve, reject) => {
                        dumpTo.on("finish", resolve).on("error", reject);
                        entry.on("end", () => dumpTo.end());
                    }),
                );
            }
        },
    });
    try {
        await new Promise<void>((resolve, reject) => {
            const input = createReadStream(archivePath, { highWaterMark: 1 << 20 });
            input.on("error", reject);
            parser.on("error", reject);
            parser.on("end", () => resolve());
            input.pipe(parser as unknown as Writable);
        });
        await Promise.all(pending);
    } catch (error) {
        if (error instanceof OperationError) {
            throw error;
        }
        throw new OperationError(`${archivePath} is damaged: not a readable .tar.gz (${(error as Error).message})`);
    }
    if (unexpected.length > 0) {
        throw new OperationError(`${archivePath} is not a PhysioFlow backup: unexpected entries ${unexpected.join(", ")}`);
    }
    const missing = MEMBERS.filter(member => !seen.includes(member));
    if (missing.length > 0) {
        throw new OperationError(`${archivePath} is not a complete PhysioFlow backup: missing ${missing.join(", ")}`);
    }
    return { metadataJson, dumpSize, dumpSha256: hashDump ? hash.digest("hex") : "" };
}

/**
 * A Writable that copies each chunk to every sink still open and calls back only once each of them
 * is done with it (its own write called back: for a child's stdin, the bytes are in the kernel's
 * pipe), so a reader may reuse the chunk's memory after the callback (readStoredArchive does); a
 * sink that closes early, such as a `pg_restore --list` that read the table of contents it needed
 * and exited, is dropped. Ending it ends the sinks. The sinks must be child processes' stdin (a
 * stream that keeps chunks after calling back, a PassThrough, would see reused memory): others are
 * refused.
 */
export function fanOut(sinks: readonly Writable[]): Writable {
    for (const sink of sinks) {
        if (!(sink instanceof Socket)) throw new Error("fanOut: a sink is not a child process's stdin");
    }
    const open = new Set(sinks);
    for (const sink of sinks) {
        sink.on("error", () => open.delete(sink));
        sink.on("close", () => open.delete(sink));
    }
    return new Writable({
        highWaterMark: 1 << 20,
        write(chunk: Buffer, _encoding, callback) {
            // A sink's failed write only drops it (its process's exit code reports why).
            Promise.all([...open].filter(sink => !sink.destroyed).map(sink => written(sink, chunk).catch(() => undefined))).then(() => callback(), callback);
        },
        final(callback) {
            open.forEach(sink => sink.end());
            callback();
        },
        destroy(error, callback) {
            open.forEach(sink => sink.destroy());
            callback(error);
        },
    });
}

/**
 * metadata.json of an archive without reading the dump where the layout allows it
 * ({@link readStoredMetadata}); any other archive (an earlier, deflated one, or a damaged one) is
 * read whole instead, as {@link readArchive} reads it. Untrusted until the dump has been hashed
 * against it.
 */
export async function readMetadataJson(archivePath: string): Promise<string> {
    return (await readStoredMetadata(archivePath)) ?? (await readArchive(archivePath, { hashDump: false })).metadataJson;
}

/** What {@link ensurePrivateDir} did to a folder that others could read. */
export type PrivateDirResult = { tightenedFrom?: number; notOurs?: number };

/**
 * Makes `dir` (and missing parents) exist as 0700. An existing folder that others can read is made
 * 0700 when it is this user's; a folder of someone else's or a shared sticky one such as /tmp is
 * not ours to lock, and is reported instead (the archive itself is 0600 either way).
 */
export async function ensurePrivateDir(dir: string): Promise<PrivateDirResult> {
    const created = await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const stat = await fs.stat(dir);
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) === 0) {
        return {};
    }
    if (created === undefined && (stat.mode & 0o1000 || stat.uid !== process.getuid?.())) {
        return { notOurs: mode };
    }
    await fs.chmod(dir, PRIVATE_DIR_MODE);
    return created === undefined ? { tightenedFrom: mode } : {};
}

function tarHeader(name: string, size: number): Buffer {
    const block = Buffer.alloc(BLOCK);
    new tar.Header({ path: name, mode: PRIVATE_FILE_MODE, uid: 0, gid: 0, uname: "", gname: "", size, mtime: new Date(0), type: "File" }).encode(block, 0);
    return block;
}
