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
const READ_SPAN = 1 << 20;
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

    /** `length` bytes from `position`, into `into` when given (its first `length` bytes), else a new buffer. */
    async read(position: number, length: number, into?: Buffer): Promise<Buffer> {
        const buffer = into ?? Buffer.allocUnsafe(length);
        const { bytesRead } = await this.file.read(buffer, 0, length, position);
        if (bytesRead !== length) throw new Error("short read");
        return buffer.subarray(0, length);
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
        // Memory reused from span to span, never fresh: on this kind of machine a fresh page costs a
        // fault (~3 ms per MB, more than hashing it), which made a verify of a 20 MB dump take twice
        // pg_restore's time (docs/benchmarks.md). The file is read into `span`; the dump's bytes of a
        // span are gathered into one of two `out` buffers and written to `dumpTo` in one write, and a
        // buffer is filled again only once its last write called back (fanOut: every sink is done with
        // it), so the next span is read and hashed while the last one is still being taken.
        const spanSize = Math.min(
            READ_SPAN,
            archive.blocks.reduce((most, block) => Math.max(most, block.at + block.length), 0),
        );
        const span = Buffer.allocUnsafe(spanSize);
        const out = dumpTo ? [Buffer.allocUnsafe(spanSize), Buffer.allocUnsafe(spanSize)] : [];
        const writing: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
        let spans = 0;
        /** Hashes the dump's bytes of one block, copies them to `into` at `at`; returns how many. */
        const take = (bytes: Buffer, raw: number, into: Buffer | undefined, at: number): number => {
            crc = zlib.crc32(bytes, crc);
            const from = Math.max(0, BLOCK - raw);
            const to = Math.max(from, Math.min(bytes.length, dumpEnd - raw));
            const dump = bytes.subarray(from, to);
            if (dump.length > 0) {
                if (options.hashDump ?? true) hash.update(dump);
                read += dump.length;
                options.onDumpBytes?.(read);
                into?.set(dump, at);
            }
            const rest = bytes.subarray(to);
            if (rest.length > 0) {
                tailBytes += rest.length;
                if (tailBytes > MAX_TAIL) throw new OperationError(`${archivePath} is not a PhysioFlow backup: more than metadata.json follows the dump`);
                tail.push(Buffer.from(rest));
            }
            return dump.length;
        };
        for (let first = 0; first < archive.blocks.length;) {
            let last = first;
            while (last + 1 < archive.blocks.length && archive.blocks[last + 1].at + archive.blocks[last + 1].length - archive.blocks[first].at <= spanSize)
                last++;
            const start = archive.blocks[first].at;
            const bytes = await archive.read(start, archive.blocks[last].at + archive.blocks[last].length - start, span);
            const slot = spans++ % 2;
            await writing[slot];
            let gathered = 0;
            for (let i = first; i <= last; i++) {
                const block = archive.blocks[i];
                gathered += take(bytes.subarray(block.at - start, block.at - start + block.length), block.raw, out[slot], gathered);
            }
            if (dumpTo && gathered > 0) {
                writing[slot] = written(dumpTo, out[slot].subarray(0, gathered));
                writing[slot].catch(() => undefined); // awaited before the buffer is reused, and at the end
            }
            first = last + 1;
        }
        await Promise.all(writing);
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

/** Payload bytes of each stored deflate block written (zlib's at level 0: a tar offset maps to a file offset by arithmetic). */
const STORED_BLOCK = 65535;
/** Bytes handed to the file at once. */
const WRITE_SPAN = 16 * (STORED_BLOCK + 5);
/** What zlib's gzip writes before the blocks: magic, deflate, no flags, no mtime, "fastest", Unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);

/**
 * Writes a gzip of stored deflate blocks to an open file, as zlib writes it at level 0 (the same
 * bytes), without zlib: from memory allocated once and reused, which on this kind of machine is
 * most of the cost of writing an archive (a fresh page costs a fault; zlib and a read stream hand
 * out new buffers for every megabyte). `add` the tar's bytes in order (they are copied; the caller
 * may reuse its buffer at once), then `finish`. Two output buffers take turns: one is filled
 * while the other is being written.
 */
export class StoredGzipWriter {
    private readonly stage = Buffer.allocUnsafe(STORED_BLOCK);
    private staged = 0;
    private readonly out = [Buffer.allocUnsafe(WRITE_SPAN), Buffer.allocUnsafe(WRITE_SPAN)];
    private readonly writing: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    private slot = 0;
    private used = 0;
    private position = 0;
    private crc = 0;
    private size = 0;

    constructor(private readonly file: FileHandle) {
        GZIP_HEADER.copy(this.out[0]);
        this.used = GZIP_HEADER.length;
    }

    /** Appends `bytes` to the tar. */
    async add(bytes: Buffer): Promise<void> {
        this.crc = zlib.crc32(bytes, this.crc);
        this.size += bytes.length;
        for (let from = 0; from < bytes.length;) {
            // A full block goes out only when more follows: the last one must carry the final bit.
            if (this.staged === STORED_BLOCK) await this.emit(false);
            const n = Math.min(STORED_BLOCK - this.staged, bytes.length - from);
            bytes.copy(this.stage, this.staged, from, from + n);
            this.staged += n;
            from += n;
        }
    }

    /** Writes the last block and the gzip trailer; resolves once every byte is in the file. */
    async finish(): Promise<void> {
        await this.emit(true);
        if (this.used + 8 > WRITE_SPAN) await this.flush();
        const trailer = this.out[this.slot];
        trailer.writeUInt32LE(this.crc >>> 0, this.used);
        trailer.writeUInt32LE(this.size % 2 ** 32, this.used + 4);
        this.used += 8;
        await this.flush();
        await Promise.all(this.writing);
    }

    private async emit(final: boolean): Promise<void> {
        if (this.used + 5 + this.staged > WRITE_SPAN) await this.flush();
        const out = this.out[this.slot];
        out[this.used] = final ? 1 : 0;
        out.writeUInt16LE(this.staged, this.used + 1);
        out.writeUInt16LE(~this.staged & 0xffff, this.used + 3);
        this.stage.copy(out, this.used + 5, 0, this.staged);
        this.used += 5 + this.staged;
        this.staged = 0;
    }

    /** Starts writing the filled buffer at its place in the file; waits until the other one is free again. */
    private async flush(): Promise<void> {
        const length = this.used;
        const write = this.file.write(this.out[this.slot], 0, length, this.position).then(({ bytesWritten }) => {
            if (bytesWritten !== length) throw new Error(`short write (${bytesWritten} of ${length} bytes)`);
        });
        write.catch(() => undefined); // awaited before the buffer is reused, and in finish
        this.writing[this.slot] = write;
        this.position += this.used;
        this.slot ^= 1;
        this.used = 0;
        await this.writing[this.slot];
    }
}

/** Writes `chunk`; resolves when the stream called back (done with the chunk) or closed; rejects with a write's error. */
export function written(stream: Writable, chunk: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
        const closed = () => resolve();
        stream.once("close", closed);
        stream.write(chunk, error => {
            stream.off("close", closed);
            if (error) reject(error);
            else resolve();
        });
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
