/**
 * Throwaway stacks of the program's cluster half (local/clusterStack.ts) with the local stack's
 * settings and fresh secrets, their state, config and PULUMI_HOME in a temp dir, deploying to a
 * control plane (devenv/cluster.ts) or rendering manifests to a folder: what the benches and the
 * engine tests (through tests/support/engine.ts) deploy. `remove()` deletes the temp dir.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiEngine } from "../devenv/engine";
import { ResourceStep, resourceSteps } from "../release/engineEvents";
import { StateResource, stateResources } from "../release/importExisting";
import { upStack } from "../release/stackEngine";
import { openClusterStack } from "./clusterStack";
import { localStackSettings } from "./localStackConfig";

/** What one preview or update did. */
export interface Operation<T> {
    result: T;
    events: auto.EngineEvent[];
    steps: ResourceStep[];
}

/** A stack of the cluster half in a temp dir. */
export interface ScratchClusterStack {
    stack: auto.Stack;
    /** Where the kubernetes provider renders manifests (when the stack renders instead of deploying). */
    renderDir: string;
    /** The `dbPassword` secret the stack holds. */
    dbPassword: string;
    /** The `blueDbPassword` and `greenDbPassword` secrets it was created with. */
    colorPasswords: { blue: string; green: string };
    /** Where the stack lives, to open it again from another process. */
    dirs: { stackName: string; workDir: string; stateDir: string; pulumiHome: string; passphrase: string };
    preview(): Promise<Operation<auto.PreviewResult>>;
    /** `pulumi up` (release/stackEngine.ts's upStack: no outputs or summary read after it). */
    up(): Promise<Operation<void>>;
    /** Runs `up` that must fail; returns the error and the events. */
    failingUp(): Promise<Operation<Error>>;
    /** Sets plain `physioflow:` settings (keys without the namespace). */
    set(settings: Record<string, string>): Promise<void>;
    /** The state's resources as `stack.exportStack()` returns them (secrets decrypted). */
    stateResources(): Promise<StateResource[]>;
    /** The state file as the file backend stores it (secrets encrypted). */
    stateFile(): string;
    /** Deletes the temp dir. */
    remove(): Promise<void>;
}

/**
 * A new stack `name` with the local settings, its secrets set with `{ secret: true }`, deploying to
 * the cluster whose kubeconfig is `target.kubeconfig` (in `target.namespace`, default the local stack's
 * `physioflow-local`; with `target.node`, its pods on that real node: localStackSettings' `node`), or
 * rendering to a temp folder with `{ render: true }`.
 */
export async function createScratchClusterStack(
    name: string,
    target: { kubeconfig: string; namespace?: string; node?: { label: string; dbHost: string } } | { render: true },
    engine: PulumiEngine,
): Promise<ScratchClusterStack> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `physioflow-engine-${name}-`));
    const renderDir = path.join(dir, "manifests");
    const stateDir = path.join(dir, "state");
    const dirs = {
        stackName: name,
        workDir: path.join(dir, "project"),
        stateDir,
        pulumiHome: path.join(dir, "pulumi-home"),
        passphrase: crypto.randomBytes(16).toString("hex"),
    };
    const stack = await openClusterStack({ engine, ...dirs });
    const dbPassword = `db-${crypto.randomBytes(12).toString("hex")}`;
    const colorPasswords = { blue: `blue-${crypto.randomBytes(12).toString("hex")}`, green: `green-${crypto.randomBytes(12).toString("hex")}` };
    const config: auto.ConfigMap = {
        "physioflow:dbPassword": { value: dbPassword, secret: true },
        "physioflow:dbAdminPassword": { value: `admin-${crypto.randomBytes(12).toString("hex")}`, secret: true },
        "physioflow:blueDbPassword": { value: colorPasswords.blue, secret: true },
        "physioflow:greenDbPassword": { value: colorPasswords.green, secret: true },
    };
    const where = "kubeconfig" in target ? { kubeconfig: target.kubeconfig, node: target.node } : { renderDir };
    for (const [key, value] of Object.entries(localStackSettings({ ...where, backupDir: path.join(dir, "backups"), dbPort: 5432 }))) {
        config[`physioflow:${key}`] = { value };
    }
    if ("namespace" in target && target.namespace !== undefined) config["physioflow:namespace"] = { value: target.namespace };
    await stack.setAllConfig(config);

    const withEvents = async <T>(operation: (onEvent: (e: auto.EngineEvent) => void) => Promise<T>): Promise<Operation<T>> => {
        const events: auto.EngineEvent[] = [];
        const result = await operation(event => events.push(event));
        return { result, events, steps: resourceSteps(events) };
    };
    return {
        stack,
        dirs,
        renderDir,
        dbPassword,
        colorPasswords,
        preview: () => withEvents(onEvent => stack.preview({ onEvent })),
        up: () => withEvents(onEvent => upStack(stack, { onEvent })),
        failingUp: () =>
            withEvents(async onEvent => {
                try {
                    await upStack(stack, { onEvent });
                } catch (error) {
                    return error as Error;
                }
                throw new Error("pulumi up succeeded but was expected to fail");
            }),
        set: async settings => {
            const changes: auto.ConfigMap = {};
            for (const [key, value] of Object.entries(settings)) changes[`physioflow:${key}`] = { value };
            await stack.setAllConfig(changes);
        },
        stateResources: () => stateResources(stack),
        stateFile: () => fs.readFileSync(path.join(stateDir, ".pulumi", "stacks", "physioflow", `${name}.json`), "utf8"),
        remove: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}
