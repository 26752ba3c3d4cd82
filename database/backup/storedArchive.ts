/**
 * Reading the archives {@link packArchive} writes without inflating them: their gzip holds only
 * stored (uncompressed) deflate blocks, each a 5-byte header and up to 64 kB of the tar as it is.
 * Walking the block headers gives where every byte of the tar sits in the file, so metadata.json
 * can be read without reading the dump, and the dump can be hashed and handed on straight from the
 * file, with the gzip's own CRC-32 and length checked too. Any other gzip (an earlier, deflated
 * archive) gets `undefined`, and the caller reads it through gunzip and a tar parser instead.
 */
import { createHash } from "crypto";
import { promises as fs, readSync } from "fs";
import { FileHandle } from "fs/promises";
import { Writable } from "stream";
import * as tar from "tar";
import * as zlib from "zlib";
import { OperationError } from "../errors";
import { DUMP_FILE, METADATA_FILE } from "./metadata";

/** What one streaming read of an archive found. */
export interface ArchiveContents {
    /** metadata.json as text. */
    metadataJson: string;
    /** Size and sha256 of database.dump as read. */
    dumpSize: number;
    dumpSha256: string;
}

const BLOCK = 512;
/** File bytes read at once while streaming the dump. */
const READ_SPAN = 4 << 20;
/** What may follow the dump: padding, metadata.json's header and text, the end-of-archive blocks. */
const MAX_TAIL = 1 << 20;

/** One stored deflate block: where its payload starts in the tar (`raw`) and in the file (`at`). */
interface StoredBlock {
    raw: number;
    at: number;
    length: number;
}

/** An open archive in the stored layout. */
class StoredArchive {
    constructor(
        readonly file: FileHandle,
        readonly blocks: StoredBlock[],
        /** Bytes of the tar. */
        readonly rawSize: number,
        /** Where the gzip trailer (CRC-32, length) starts. */
        readonly trailerAt: number,
    ) {}

    async read(position: number, length: number): Promise<Buffer> {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await this.file.read(buffer, 0, length, position);
        if (bytesRead !== length) throw new Error("short read");
        return buffer;
    }

    /** `length` bytes of the tar from `start`. */
    async readRaw(start: number, length: number): Promise<Buffer> {
        const parts: Buffer[] = [];
        for (const block of this.blocks) {
            const from = Math.max(start, block.raw);
            const to = Math.min(start + length, block.raw + block.length);
            if (from < to) parts.push(await this.read(block.at + from - block.raw, to - from));
        }
        const joined = Buffer.concat(parts);
        if (joined.length !== length) throw new Error("past the end of the tar");
        return joined;
    }

    /** The first tar header, when it is database.dump's (the layout packArchive writes). */
    async dumpHeader(): Promise<tar.Header | undefined> {
        const header = new tar.Header(await this.readRaw(0, BLOCK));
        return header.path === DUMP_FILE && header.type === "File" && header.cksumValid ? header : undefined;
    }
}

/** Opens `archivePath` when it is in the stored layout with database.dump first; undefined otherwise. */
async function openStored(archivePath: string): Promise<StoredArchive | undefined> {
    const file = await fs.open(archivePath, "r");
    try {
        const { size } = await file.stat();
        const archive = await walkBlocks(file, size);
        if (archive && (await archive.dumpHeader())) return archive;
    } catch {
        // Unreadable as stored blocks: the gunzip path reads it, and says what is wrong with it.
    }
    await file.close();
    return undefined;
}

async function walkBlocks(file: FileHandle, size: number): Promise<StoredArchive | undefined> {
    // Synchronous reads of 5 bytes each: one a 64 kB block, thousands for a large dump, where a round trip through the thread pool each would cost more than the reads.
    const readAt = (buffer: Buffer, position: number) => readSync(file.fd, buffer, 0, buffer.length, position) === buffer.length;
    const header = Buffer.alloc(10);
    // gzip, deflate, no optional header fields (what zlib.createGzip writes).
    if (!readAt(header, 0) || header[0] !== 0x1f || header[1] !== 0x8b || header[2] !== 8 || header[3] !== 0) return undefined;
    const blocks: StoredBlock[] = [];
    const block = Buffer.alloc(5);
    let at = 10;
    let raw = 0;
    for (let last = false; !last;) {
        if (!readAt(block, at)) return undefined;
        if ((block[0] & 0b110) !== 0) return undefined; // a deflated block: not this layout
        last = (block[0] & 1) === 1;
        const length = block.readUInt16LE(1);
        if ((length ^ block.readUInt16LE(3)) !== 0xffff || at + 5 + length > size) return undefined;
        blocks.push({ raw, at: at + 5, length });
        raw += length;
        at += 5 + length;
    }
    return at + 8 === size ? new StoredArchive(file, blocks, raw, at) : undefined;
}

/** metadata.json's text from an archive in the stored layout, reading only the tar headers and it; undefined for any other archive. */
export async function readStoredMetadata(archivePath: string): Promise<string | undefined> {
    const archive = await openStored(archivePath);
    if (!archive) return undefined;
    try {
        const dump = (await archive.dumpHeader())!;
        const at = BLOCK + dump.size! + padding(dump.size!);
        const header = new tar.Header(await archive.readRaw(at, BLOCK));
        if (header.path !== METADATA_FILE || header.type !== "File" || !header.cksumValid) return undefined;
        return (await archive.readRaw(at + BLOCK, header.size!)).toString("utf8");
    } catch {
        return undefined;
    } finally {
        await archive.file.close();
    }
}

/**
 * Reads an archive in the stored layout once, as {@link readArchive} does (undefined, having read
 * nothing of the dump, for any other archive): the dump is hashed and written to `dumpTo` (ended
 * after it; its backpressure paces the reads), the gzip's CRC-32 and length are checked, and what
 * follows the dump must be metadata.json and nothing else.
 */
export async function readStoredArchive(
    archivePath: string,
    options: { dumpTo?: Writable; hashDump?: boolean; onDumpBytes?: (bytes: number) => void },
): Promise<ArchiveContents | undefined> {
    const archive = await openStored(archivePath);
    if (!archive) return undefined;
    const damaged = (why: string) => new OperationError(`${archivePath} is damaged: ${why}`);
    try {
        const dumpSize = (await archive.dumpHeader())!.size!;
        const dumpEnd = BLOCK + dumpSize;
        const hash = createHash("sha256");
        const tail: Buffer[] = [];
        let tailBytes = 0;
        let crc = 0;
        let read = 0;
        const { dumpTo } = options;
        const take = async (bytes: Buffer, raw: number) => {
            crc = zlib.crc32(bytes, crc);
            const from = Math.max(0, BLOCK - raw);
            const to = Math.max(from, Math.min(bytes.length, dumpEnd - raw));
            const dump = bytes.subarray(from, to);
            if (dump.length > 0) {
                if (options.hashDump ?? true) hash.update(dump);
                read += dump.length;
                options.onDumpBytes?.(read);
                if (dumpTo && !dumpTo.write(dump)) await drained(dumpTo);
            }
            const rest = bytes.subarray(to);
            if (rest.length > 0) {
                tailBytes += rest.length;
                if (tailBytes > MAX_TAIL) throw new OperationError(`${archivePath} is not a PhysioFlow backup: more than metadata.json follows the dump`);
                tail.push(Buffer.from(rest));
            }
        };
        for (let first = 0; first < archive.blocks.length;) {
            let last = first;
            while (last + 1 < archive.blocks.length && archive.blocks[last + 1].at + archive.blocks[last + 1].length - archive.blocks[first].at <= READ_SPAN)
                last++;
            const start = archive.blocks[first].at;
            const span = await archive.read(start, archive.blocks[last].at + archive.blocks[last].length - start);
            for (let i = first; i <= last; i++) {
                const block = archive.blocks[i];
                await take(span.subarray(block.at - start, block.at - start + block.length), block.raw);
            }
            first = last + 1;
        }
        if (dumpTo) await ended(dumpTo);
        const trailer = await archive.read(archive.trailerAt, 8);
        if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== archive.rawSize % 2 ** 32) {
            throw damaged("its gzip CRC-32 or length does not match its contents");
        }
        return {
            metadataJson: metadataFromTail(Buffer.concat(tail), dumpSize, archivePath),
            dumpSize: read,
            dumpSha256: (options.hashDump ?? true) ? hash.digest("hex") : "",
        };
    } finally {
        await archive.file.close();
    }
}

/** metadata.json from what follows the dump: its padding, metadata.json, and zeros to the end. */
function metadataFromTail(tail: Buffer, dumpSize: number, archivePath: string): string {
    const at = padding(dumpSize);
    const header = tail.length >= at + BLOCK ? new tar.Header(tail.subarray(at, at + BLOCK)) : undefined;
    if (!header || header.path !== METADATA_FILE || header.type !== "File" || !header.cksumValid) {
        throw new OperationError(`${archivePath} is not a complete PhysioFlow backup: missing ${METADATA_FILE}`);
    }
    const text = tail.subarray(at + BLOCK, at + BLOCK + header.size!);
    const rest = tail.subarray(at + BLOCK + header.size!);
    if (text.length !== header.size || rest.some(byte => byte !== 0)) {
        throw new OperationError(`${archivePath} is not a PhysioFlow backup: unexpected data after ${METADATA_FILE}`);
    }
    return text.toString("utf8");
}

function drained(stream: Writable): Promise<void> {
    return new Promise(resolve => {
        const done = () => {
            stream.off("drain", done);
            stream.off("close", done);
            resolve();
        };
        stream.on("drain", done).on("close", done);
    });
}

function ended(stream: Writable): Promise<void> {
    return new Promise((resolve, reject) => {
        stream.on("finish", resolve).on("error", reject);
        stream.end();
    });
}

export function padding(size: number): number {
    return (BLOCK - (size % BLOCK)) % BLOCK;
}
