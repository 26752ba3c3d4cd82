/**
 * The stand-ins for the team's apps (devenv/apps/, docs/apps.md): their static binaries and the
 * local stack's image archives, built by scripts/apps.sh into the cache outside the repository
 * (npm run setup builds them; a missing one is built here, about 40 s on a cold Go cache).
 */
import * as path from "path";
import { runWithProgress } from "./processes";

const script = path.resolve(__dirname, "..", "scripts", "apps.sh");

/** Where the stand-ins are. */
export interface StandInApps {
    /** The build's directory (named after a digest of the sources). */
    dir: string;
    /**
     * The static binaries: the API and web stand-ins, the image packer, the load generator, curl's
     * stand-in (docs/traffic.md) and the real node's pause (docs/node.md).
     */
    bin: { api: string; web: string; pack: string; load: string; curl: string; pause: string };
    /**
     * Image archives (docker save's format): the API's, the web app's built with the local stack's
     * NEXT_PUBLIC_* values, the smoke Job's (busybox's sh and tools, curl's stand-in) and the real
     * node's pod sandbox (devenv/apps/pause). `imagesDir` holds them all.
     */
    images: { api: string; webLocal: string; smoke: string; pause: string };
    imagesDir: string;
}

/** Builds what is missing (a cached build returns at once) and says where everything is; a failure is one line naming the step. */
export async function standInApps(onProgress: (line: string) => void = () => undefined): Promise<StandInApps> {
    const run = await runWithProgress("bash", [script, "build"], onProgress);
    if (run.status !== 0) {
        const last = run.stderr.trim().split("\n").pop() ?? "";
        throw new Error(`the stand-in apps are not built: ${last || `scripts/apps.sh build exited with ${run.status}`}; see docs/apps.md`);
    }
    const dir = run.stdout.trim();
    return {
        dir,
        bin: {
            api: path.join(dir, "bin", "api"),
            web: path.join(dir, "bin", "web"),
            pack: path.join(dir, "bin", "pack"),
            load: path.join(dir, "bin", "load"),
            curl: path.join(dir, "bin", "curl"),
            pause: path.join(dir, "bin", "pause"),
        },
        images: {
            api: path.join(dir, "images", "physioflow-api.tar"),
            webLocal: path.join(dir, "images", "physioflow-web-local.tar"),
            smoke: path.join(dir, "images", "physioflow-smoke.tar"),
            pause: path.join(dir, "images", "pause.tar"),
        },
        imagesDir: path.join(dir, "images"),
    };
}
