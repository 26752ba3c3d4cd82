/**
 * Temp directories private to this process and removed with it ({@link processTempDir}; the test
 * fixtures' migrations folders use it too), and the one for the Pulumi engine's runs.
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

const ENGINE_PREFIX = "physioflow-pulumi-tmp-";

/** This process's engine temp directory (made 0700 on first use, in the system's temp directory). */
export function engineTempDir(): string {
    return processTempDir(ENGINE_PREFIX);
}

/** `env` with `TMPDIR` set to {@link engineTempDir}: for a workspace's `envVars`. */
export function withEngineTemp(env: Record<string, string> = {}): Record<string, string> {
    return { ...env, TMPDIR: engineTempDir() };
}

const made = new Map<string, string>();

/**
 * A directory `<prefix><pid>-XXXXXX` in the system's temp directory, private to this process: made
 * 0700 on first use (again if something removed it), removed when the process exits, first among
 * the exit handlers (a mocha worker's slower ones, a control plane's stop, can outlast the pool's
 * grace and be cut short by its SIGTERM; this one takes milliseconds). Before it is made, the
 * directories of the same prefix whose process is gone are removed.
 */
export function processTempDir(prefix: string): string {
    const known = made.get(prefix);
    if (known !== undefined && fs.existsSync(known)) return known;
    const base = os.tmpdir();
    removeOrphans(base, prefix);
    const dir = fs.mkdtempSync(path.join(base, `${prefix}${process.pid}-`));
    made.set(prefix, dir);
    process.prependOnceListener("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
}

/** Removes the directories of `prefix` in `base` whose process is gone (killed before its exit handler ran). */
export function removeOrphans(base: string, prefix = ENGINE_PREFIX): void {
    let names: string[];
    try {
        names = fs.readdirSync(base);
    } catch {
        return;
    }
    for (const name of names) {
        const pid = ownerPid(name, prefix);
        if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
        fs.rmSync(path.join(base, name), { recursive: true, force: true });
    }
}

/** The pid in the name of a directory of `prefix`, or undefined for any other name. */
export function ownerPid(name: string, prefix = ENGINE_PREFIX): number | undefined {
    if (!name.startsWith(prefix)) return undefined;
    const match = /^(\d+)-[A-Za-z0-9]{6}$/.exec(name.slice(prefix.length));
    return match === null ? undefined : Number(match[1]);
}

/** Whether a process `pid` runs on this machine (one of another user's counts). */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}
