/**
 * Reads the manifests the kubernetes provider renders (`renderYamlToDirectory`): what a cluster
 * would have been sent. Used by the tests to check the result without a cluster.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

/** One rendered object. */
export interface RenderedObject {
    kind: string;
    name: string;
    namespace?: string;
    /** The whole object as rendered. */
    object: any;
    /** File it was read from. */
    file: string;
}

/** Every object rendered under `dir` (the provider writes `0-crd/` and `1-manifest/`). */
export function readRenderedObjects(dir: string): RenderedObject[] {
    return yamlFiles(dir).flatMap(file =>
        yaml
            .loadAll(fs.readFileSync(file, "utf8"))
            .filter((object: any) => object && typeof object === "object")
            .map((object: any) => ({
                kind: String(object.kind),
                name: String(object.metadata?.name),
                namespace: object.metadata?.namespace,
                object,
                file,
            })),
    );
}

/** The rendered object of a kind and name; throws naming what was rendered when it is not there once. */
export function renderedObject(dir: string, kind: string, name: string): any {
    const objects = readRenderedObjects(dir);
    const found = objects.filter(o => o.kind === kind && o.name === name);
    if (found.length !== 1) {
        throw new Error(
            `expected one rendered ${kind} ${name} in ${dir}, found ${found.length} (rendered: ${objects.map(o => `${o.kind}/${o.name}`).join(", ") || "nothing"})`,
        );
    }
    return found[0].object;
}

/** Each rendered Service's selector, by Service name. */
export function serviceSelectors(dir: string): Record<string, Record<string, string>> {
    return Object.fromEntries(
        readRenderedObjects(dir)
            .filter(o => o.kind === "Service")
            .map(o => [o.name, o.object.spec?.selector ?? {}]),
    );
}

/** Each rendered Deployment's replicas and first container image, by Deployment name. */
export function deploymentSummaries(dir: string): Record<string, { replicas: number; image: string }> {
    return Object.fromEntries(
        readRenderedObjects(dir)
            .filter(o => o.kind === "Deployment")
            .map(o => [o.name, { replicas: o.object.spec?.replicas, image: o.object.spec?.template?.spec?.containers?.[0]?.image }]),
    );
}

/** Path, size, mtime and sha256 of every file under `dir`: equal snapshots mean nothing was written. */
export function directorySnapshot(dir: string): string[] {
    return allFiles(dir)
        .map(file => {
            const stat = fs.statSync(file);
            const hash = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
            return `${path.relative(dir, file)} ${stat.size} ${stat.mtimeMs} ${hash}`;
        })
        .sort();
}

function yamlFiles(dir: string): string[] {
    return allFiles(dir)
        .filter(file => /\.ya?ml$/.test(file))
        .sort();
}

function allFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? allFiles(full) : [full];
    });
}
