/**
 * Pulumi's file backend (`file://DIR`), as the release commands and the local stacks use it.
 *
 * The backend replaces a stack's checkpoint atomically (a temp file renamed over it), but beside
 * each file it keeps a metadata "sidecar" (`<stack>.json.attrs`) that it truncates and then writes
 * in place, before the rename. A `pulumi` killed between the two (a deploy killed during its switch,
 * a cancelled runner) leaves an empty sidecar, and from then on every command on the stack,
 * `pulumi stack select` and `pulumi config` included, fails with "failed to load checkpoint: EOF".
 * A sidecar holds a content type and a checksum that nothing reads, so:
 *  - the backends these commands use carry `?metadata=skip` (gocloud's fileblob option): no sidecar
 *    is written, so none can be torn; a file without one is read as the backend expects;
 *  - before a command opens a stack, and when it takes over the lock of a command that was killed,
 *    a torn sidecar (empty, or not JSON) is removed and named.
 */
import * as auto from "@pulumi/pulumi/automation";
import { withEngineTemp } from "../devenv/engineTemp";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** `file://DIR?metadata=skip` for a state directory. */
export function fileBackendUrl(stateDir: string): string {
    return `file://${path.resolve(stateDir)}?metadata=skip`;
}

/** A `file://` backend URL with `metadata=skip` added (unless it names a metadata option already); other URLs unchanged. */
export function withoutSidecars(backendUrl: string): string {
    if (!backendUrl.startsWith("file://") || /[?&]metadata=/.test(backendUrl)) return backendUrl;
    return `${backendUrl}${backendUrl.includes("?") ? "&" : "?"}metadata=skip`;
}

/** The directory of a `file://` backend URL (`~` expanded, the query dropped); undefined for other backends. */
export function fileBackendDir(backendUrl: string): string | undefined {
    if (!backendUrl.startsWith("file://")) return undefined;
    let dir = decodeURIComponent(backendUrl.slice("file://".length).split("?")[0]);
    if (dir === "~" || dir.startsWith("~/")) dir = path.join(os.homedir(), dir.slice(1));
    return path.resolve(dir);
}

/** Removes the torn sidecars (empty, or not JSON) under a file backend's `DIR/.pulumi`; returns their paths relative to DIR. */
export function removeTornSidecars(stateDir: string): string[] {
    const removed: string[] = [];
    const walk = (dir: string): void => {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
            return; // no state yet
        }
        for (const entry of entries) {
            const file = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(file);
            else if (entry.isFile() && entry.name.endsWith(".attrs") && !isJson(file)) {
                fs.rmSync(file, { force: true });
                removed.push(path.relative(stateDir, file));
            }
        }
    };
    walk(path.join(stateDir, ".pulumi"));
    return removed;
}

/** {@link removeTornSidecars}, each file removed said in one line. */
export function removeTornSidecarsSaying(stateDir: string, out: (line: string) => void): void {
    for (const file of removeTornSidecars(stateDir)) out(`state: removed ${file} in ${stateDir}: an empty metadata file a killed pulumi left`);
}

function isJson(file: string): boolean {
    try {
        JSON.parse(fs.readFileSync(file, "utf8"));
        return true;
    } catch {
        return false;
    }
}

/**
 * For a workspace on a file backend: removes torn sidecars (saying so), and makes the workspace's
 * own commands write none from now on. Any other backend is left as it is. The backend is the
 * workspace's `PULUMI_BACKEND_URL`, else the one `pulumi whoami` names.
 */
export async function repairFileBackend(workspace: auto.Workspace, out: (line: string) => void): Promise<void> {
    const url = workspace.envVars.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL ?? (await backendOf(workspace));
    const dir = url === undefined ? undefined : fileBackendDir(url);
    if (url === undefined || dir === undefined) return;
    removeTornSidecarsSaying(dir, out);
    workspace.envVars.PULUMI_BACKEND_URL = withoutSidecars(url);
}

/** Selects `stackName` in a workspace made with `options` (the user's own backend and CLI by default), its file backend repaired first. */
export async function selectRepairedStack(stackName: string, options: auto.LocalWorkspaceOptions, out: (line: string) => void): Promise<auto.Stack> {
    // TMPDIR: the provider's kubeconfig copies go to a directory removed with this process (devenv/engineTemp.ts).
    const workspace = await auto.LocalWorkspace.create({ ...options, envVars: withEngineTemp(options.envVars) });
    // Before the stack is selected: a metadata file a killed pulumi tore fails every command on it, selecting included.
    await repairFileBackend(workspace, out);
    return auto.Stack.select(stackName, workspace);
}

async function backendOf(workspace: auto.Workspace): Promise<string | undefined> {
    try {
        return (await workspace.whoAmI()).url;
    } catch {
        return undefined; // not logged in: selecting the stack will say so
    }
}
