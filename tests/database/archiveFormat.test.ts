/**
 * The archive as written (database/backup/archive.ts, storedArchive.ts, without zlib): a gzip of
 * stored deflate blocks of 65 535 bytes (the last one shorter, and final) holding the tar, which
 * zlib's gunzip, GNU tar and the stored-block reader all read back, for dump sizes around every
 * boundary the writer has (a stored block, its output span, none at all).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import * as zlib from "zlib";
import { packArchive, readArchive } from "../../database/backup/archive";

const BLOCK = 512;
const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);
function header(name: string, size: number): Buffer {
    const block = Buffer.alloc(BLOCK);
    new tar.Header({ path: name, mode: 0o600, uid: 0, gid: 0, uname: "", gname: "", size, mtime: new Date(0), type: "File" }).encode(block, 0);
    return block;
}

describe("the archive's bytes (stored gzip blocks, written without zlib)", () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-archive-format-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const sizes = [0, 1, 65535 - 512, 65535 - 511, 65535, 16 * 65540 - 10, 16 * 65535 + 3, (1 << 20) + 1, 3 * (1 << 20) + 12345];
    for (const size of sizes) {
        it(`a ${size}-byte dump: stored blocks holding the tar; gunzip, tar -xzf and the reader read it back`, async () => {
            const dump = Buffer.alloc(size);
            for (let i = 0; i < size; i++) dump[i] = (i * 2654435761) >>> 24;
            const dumpPath = path.join(dir, `d${size}.dump`);
            fs.writeFileSync(dumpPath, dump);
            const archivePath = path.join(dir, `a${size}.tar.gz`);
            const sha = createHash("sha256").update(dump).digest("hex");
            const metadata = JSON.stringify({ dump_size_bytes: size, dump_sha256: sha });
            const written = await packArchive(dumpPath, w => JSON.stringify({ dump_size_bytes: w.dumpSize, dump_sha256: w.dumpSha256 }), archivePath);
            assert.deepStrictEqual(written, { dumpSize: size, dumpSha256: sha });
            const raw = Buffer.concat([
                header("database.dump", size),
                dump,
                pad(size),
                header("metadata.json", metadata.length),
                Buffer.from(metadata),
                pad(metadata.length),
                Buffer.alloc(2 * BLOCK),
            ]);
            const archive = fs.readFileSync(archivePath);
            assert.ok(zlib.gunzipSync(archive).equals(raw), "gunzip does not give the tar back");
            assert.deepStrictEqual([...archive.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
            const blocks: number[] = [];
            let at = 10;
            for (let final = false; !final;) {
                assert.strictEqual(archive[at] & 0b110, 0, "a block that is not stored");
                final = (archive[at] & 1) === 1;
                blocks.push(archive.readUInt16LE(at + 1));
                at += 5 + archive.readUInt16LE(at + 1);
            }
            assert.strictEqual(at + 8, archive.length);
            assert.ok(
                blocks.slice(0, -1).every(length => length === 65535) && blocks[blocks.length - 1] > 0 && blocks[blocks.length - 1] <= 65535,
                blocks.join(" "),
            );
            const out = fs.mkdtempSync(path.join(dir, "x-"));
            execFileSync("tar", ["-xzf", archivePath, "-C", out]);
            assert.ok(fs.readFileSync(path.join(out, "database.dump")).equals(dump));
            assert.strictEqual(fs.readFileSync(path.join(out, "metadata.json"), "utf8"), metadata);
            assert.strictEqual(fs.statSync(archivePath).mode & 0o777, 0o600);
            assert.deepStrictEqual(
                fs.readdirSync(dir).filter(name => name.includes(".partial")),
                [],
            );
            const read = await readArchive(archivePath);
            assert.deepStrictEqual(read, { metadataJson: metadata, dumpSize: size, dumpSha256: sha });
        });
    }
});
