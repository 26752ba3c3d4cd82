import { createHash } from "crypto";
import { createReadStream, createWriteStream, promises as fs } from "fs";
import * as path from "path";
import { Readable, Writable } from "stream";
import { pipeline } from "stream/promises";
import * as tar from "tar";
import * as zlib from "zlib";
import { OperationError } from "../errors";
import { DUMP_FILE, METADATA_FILE } from "./metadata";

const MEMBERS = [METADATA_FILE, DUMP_FILE];
const BLOCK = 512;
/** Archives and the folders holding them are the owner's alone (patient data), whatever the umask. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
// The dump is already compressed by pg_dump; deflating it again costs seconds and saves nothing.
// Level 0 keeps the archive a real .tar.gz (tar -xzf, the runbook's scripts) at the cost of a CRC.
const GZIP = { level: 0, chunkSize: 1 << 20 } as const;

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
    const { size } = await fs.stat(dumpPath);
    const hash = createHash("sha256");
    let copied = 0;
    let written: WrittenArchive | undefined;
    async function* tarStream(): AsyncGenerator<Buffer> {
        yield tarHeader(DUMP_FILE, size);
        for await (const chunk of createReadStream(dumpPath, { highWaterMark: 1 << 20 })) {
            hash.update(chunk as Buffer);
            copied += (chunk as Buffer).length;
            yield chunk as Buffer;
        }
        if (copied !== size) {
            throw new OperationError(`${dumpPath} changed while it was archived (${copied} bytes read, ${size} expected)`);
        }
        yield Buffer.alloc(padding(size));
        written = { dumpSize: size, dumpSha256: hash.digest("hex") };
        const metadata = Buffer.from(metadataFor(written));
        yield tarHeader(METADATA_FILE, metadata.length);
        yield metadata;
        yield Buffer.alloc(padding(metadata.length) + 2 * BLOCK);
    }
    try {
        await pipeline(Readable.from(tarStream()), zlib.createGzip(GZIP), createWriteStream(partial, { flags: "wx", mode: PRIVATE_FILE_MODE }));
        await fs.chmod(partial, PRIVATE_FILE_MODE);
        await fs.rename(partial, archivePath);
    } catch (error) {
        await fs.rm(partial, { force: true });
        throw error;
    }
    return written!;
}

/** What one streaming read of an archive found. */
export interface ArchiveContents {
    /** metadata.json as text. */
    metadataJson: string;
    /** Size and sha256 of database.dump as read. */
    dumpSize: number;
    dumpSha256: string;
}

/**
 * Reads an archive once, start to end: checks that it holds exactly metadata.json and
 * database.dump as plain files (no paths, links or extras, in either order, so archives written
 * before the dump came first still read), hashes the dump as it streams by (unless `hashDump` is
 * false: a listing wants the metadata only, and `dumpSha256` is then ""), and copies it to
 * `dumpCopyPath` when given (a restore needs it; a verify does not). A damaged or foreign archive
 * is refused with the reason.
 */
export async function readArchive(archivePath: string, dumpCopyPath?: string, hashDump = true): Promise<ArchiveContents> {
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
            entry.on("data", (chunk: Buffer) => {
                if (hashDump) hash.update(chunk);
                dumpSize += chunk.length;
            });
            if (dumpCopyPath) {
                pending.push(pipeline(entry, createWriteStream(dumpCopyPath, { mode: PRIVATE_FILE_MODE })));
            } else {
                entry.resume();
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

function padding(size: number): number {
    return (BLOCK - (size % BLOCK)) % BLOCK;
}
