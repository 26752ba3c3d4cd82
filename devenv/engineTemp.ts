/**
 * A temp directory for the Pulumi engine's runs, private to this process and removed with it.
 *
 * The kubernetes provider (4.x, `writeKubeconfigToFile`) writes the stack's kubeconfig to a new
 * file in the temp directory each time it is configured, at every preview and update, and never
 * removes it: without this, copies of the cluster's credentials pile up in /tmp, one or two per
 * `pulumi up` (the test suite left 5,000). Every engine run the commands, `npm run local` and the
 * tests start gets `TMPDIR` set to this directory; it is removed when the process exits, and a
 * later process removes the ones whose process was killed before it could.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const PREFIX = "physioflow-pulumi-tmp-";

let dir: string | undefined;

/** This process's engine temp directory (made 0700 on first use, in the system's temp directory). */
export function engineTempDir(): string {
    if (dir !== undefined && fs.existsSync(dir)) return dir;
    const base = os.tmpdir();
    removeOrphans(base);
    dir = fs.mkdtempSync(path.join(base, `${PREFIX}${process.pid}-`));
    const made = dir;
    // First among the exit handlers: a mocha worker's slower ones (a control plane's stop) can outlast
    // the pool's grace and be cut short by its SIGTERM; this one takes milliseconds.
    process.prependOnceListener("exit", () => fs.rmSync(made, { recursive: true, force: true }));
    return made;
}

/** `env` with `TMPDIR` set to {@link engineTempDir}: for a workspace's `envVars`. */
export function withEngineTemp(env: Record<string, string> = {}): Record<string, string> {
    return { ...env, TMPDIR: engineTempDir() };
}

/** Removes engine temp directories in `base` whose process is gone (killed before its exit handler ran). */
export function removeOrphans(base: string): void {
    let names: string[];
    try {
        names = fs.readdirSync(base);
    } catch {
        return;
    }
    for (const name of names) {
        const pid = ownerPid(name);
        if (pid === undefined || pid === process.pid || alive(pid)) continue;
        fs.rmSync(path.join(base, name), { recursive: true, force: true });
    }
}

/** The pid in an engine temp directory's name, or undefined for any other name. */
export function ownerPid(name: string): number | undefined {
    const match = new RegExp(`^${PREFIX}(\\d+)-[A-Za-z0-9]{6}$`).exec(name);
    return match === null ? undefined : Number(match[1]);
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}
