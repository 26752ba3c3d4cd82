/**
 * A release whose API is broken in a chosen way, as an image tag of its own on a real node
 * (docs/node.md): the API stand-in packed again with `FAULT` (and `FAULT_AFTER_REQUESTS`, docs/apps.md)
 * in its image's environment, since the program gives the API container no such variable, and the
 * web image tagged alike from a good tag (a release moves both apps to one tag). Imported straight
 * into the node's containerd (`ctr images import` through its socket, as `node.sh start` imports
 * scripts/apps.sh's archives): no registry, nothing added to the images every node imports.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { apiPort, webPort } from "../../components/colorSettings";
import { RealNode } from "../../devenv/node";
import { StandInApps } from "../../devenv/standInApps";

const run = promisify(execFile);
const registry = "registry.local:5000";
/** The API pod's user (runAsUser in components/colorDeployment.ts; scripts/apps.sh packs the same). */
const apiUser = 1000;
/** The web pod's user, as scripts/apps.sh packs the web images. */
const webUser = 1001;

/** The node's `ctr` (scripts/node.sh build prints the directory of its binaries; seconds when built). */
async function ctrBinary(): Promise<string> {
    const { stdout } = await run("bash", [path.resolve(__dirname, "../../scripts/node.sh"), "build"]);
    return path.join(stdout.trim().split("\n").pop()!, "ctr");
}

/** The web image of a faulty release: a tag scripts/apps.sh built, as it is, or a build (`web build`, like `next build`) with these `NEXT_PUBLIC_*` values baked in. */
export type FaultyWeb = { from: string } | { buildEnv: Record<string, string> };

/**
 * Makes `tag` of both apps available on `node`: the API stand-in with `fault` in its environment
 * (e.g. `{ FAULT: "5xx" }`; `{}` for a sound API), the web app as `web` says (default: v1.0.0's
 * image; `{ buildEnv: { NEXT_PUBLIC_API_URL: dev's } }` is a dev build promoted by mistake).
 */
export async function importFaultyRelease(
    node: RealNode,
    apps: StandInApps,
    tag: string,
    fault: Record<string, string>,
    web: FaultyWeb = { from: "v1.0.0" },
): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-faulty-image-"));
    try {
        const archive = path.join(dir, "api.tar");
        const env = Object.entries({ PORT: String(apiPort), ...fault }).flatMap(([name, value]) => ["--env", `${name}=${value}`]);
        await run(apps.bin.pack, [
            "--binary",
            apps.bin.api,
            "--user",
            String(apiUser),
            "--port",
            String(apiPort),
            ...env,
            "--tag",
            `${registry}/physioflow-api:${tag}`,
            "--out",
            archive,
        ]);
        const ctr = [await ctrBinary(), "--address", path.join(node.dir, "containerd.sock"), "-n", "k8s.io"];
        await run(ctr[0], [...ctr.slice(1), "images", "import", archive]);
        if ("from" in web) {
            await run(ctr[0], [...ctr.slice(1), "images", "tag", "--force", `${registry}/physioflow-web:${web.from}`, `${registry}/physioflow-web:${tag}`]);
        } else {
            // As scripts/apps.sh packs the web images (docs/apps.md, "The images"): the build's files under /app/site.
            const site = path.join(dir, "site");
            await run(apps.bin.web, ["build", "--out", site], { env: { PATH: process.env.PATH, ...web.buildEnv } });
            const webArchive = path.join(dir, "web.tar");
            await run(apps.bin.pack, [
                ...["--binary", apps.bin.web, "--user", String(webUser), "--port", String(webPort), "--env", `PORT=${webPort}`],
                ...["--dir", `${site}:/app/site`, "--tag", `${registry}/physioflow-web:${tag}`, "--out", webArchive],
            ]);
            await run(ctr[0], [...ctr.slice(1), "images", "import", webArchive]);
        }
    } catch (error) {
        throw new Error(`could not make ${tag} (${JSON.stringify(fault)}) on the node: ${(error as Error).message.split("\n")[0]}`, { cause: error });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
