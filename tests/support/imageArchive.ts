/**
 * Reading the stand-ins' image archives (docker save's format, as scripts/apps.sh writes them) the
 * way containerd's import would: manifest.json, each tag's config, the one layer; and unpacking the
 * layer into a directory to run what the image holds.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as tar from "tar";
import * as zlib from "zlib";

export interface ImageConfig {
    architecture: string;
    os: string;
    rootfs: { type: string; diff_ids: string[] };
    config: {
        Entrypoint: string[];
        Cmd?: string[];
        User: string;
        Env: string[];
        WorkingDir: string;
        ExposedPorts?: Record<string, object>;
        Labels?: Record<string, string>;
    };
}
export interface Archive {
    manifest: { Config: string; RepoTags: string[]; Layers: string[] }[];
    config(entry: number): ImageConfig;
    /** The one layer's tar, uncompressed. */
    layer: Buffer;
}

/** Reads an image archive (docker save's format) unpacked into `dir`. */
export async function readArchive(file: string, dir: string): Promise<Archive> {
    fs.mkdirSync(dir, { recursive: true });
    await tar.x({ file, cwd: dir });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Archive["manifest"];
    const layers = new Set(manifest.flatMap(entry => entry.Layers));
    assert.strictEqual(layers.size, 1, `every tag shares one layer: ${[...layers].join(", ")}`);
    return {
        manifest,
        config: entry => JSON.parse(fs.readFileSync(path.join(dir, manifest[entry].Config), "utf8")) as ImageConfig,
        layer: zlib.gunzipSync(fs.readFileSync(path.join(dir, [...layers][0]))),
    };
}

/** The layer's entries: path, type, mode and owner. */
export async function layerEntries(layer: Buffer, dir: string): Promise<{ path: string; type: string; mode: number; uid: number }[]> {
    const file = path.join(dir, "layer.tar");
    fs.writeFileSync(file, layer);
    const entries: { path: string; type: string; mode: number; uid: number }[] = [];
    await tar.t({ file, onReadEntry: entry => entries.push({ path: entry.path, type: entry.type, mode: entry.mode ?? -1, uid: entry.uid ?? -1 }) });
    return entries;
}

/** Unpacks the image in `file` into `dir`/rootfs (links kept) and returns that path and its first config. */
export async function unpackImage(file: string, dir: string): Promise<{ root: string; config: ImageConfig; archive: Archive }> {
    const archive = await readArchive(file, dir);
    const root = path.join(dir, "rootfs");
    fs.mkdirSync(root, { recursive: true });
    const layer = path.join(dir, "layer.tar");
    fs.writeFileSync(layer, archive.layer);
    await tar.x({ file: layer, cwd: root, preservePaths: false });
    return { root, config: archive.config(0), archive };
}
