/**
 * `physioflow import <stack>`: a stack's first `up` over what the team already runs. With
 * `importExisting` set for that one update, the program adopts (the `import` resource option) the
 * namespace, the database and the owner role instead of creating them; everything else the stack
 * declares is created. Read state, decide, act, report: refused once the stack has resources, a
 * preview printed before anything, a confirmation, the update, the setting removed whatever
 * happened, and a last preview that shows what the next `up` will still change.
 */
import * as auto from "@pulumi/pulumi/automation";
import { changedSteps, describeSteps, diagnostics, resourceSteps } from "./engineEvents";

export const importSetting = "physioflow:importExisting";

export interface ImportOptions {
    out: (line: string) => void;
    /** Asked after the preview; false stops with nothing changed. Default: yes. */
    confirm?: () => Promise<boolean>;
}

export interface ImportResult {
    ok: boolean;
    /** `Type/name` of each adopted object. */
    imported: string[];
    /** What a `pulumi preview` after the import shows (`Type/name op [paths]`). */
    pending: string[];
    error?: string;
}

/** A resource of a stack's state as `stack.exportStack()` gives it: the fields read here and in the tests. */
export interface StateResource {
    urn: string;
    /** e.g. `kubernetes:core/v1:Namespace`. */
    type: string;
    retainOnDelete?: boolean;
}

/**
 * The resources of the stack's state (the Automation API types its `deployment` as any). It
 * exports with `--show-secrets`: secrets are decrypted here.
 */
export async function stateResources(stack: auto.Stack): Promise<StateResource[]> {
    const state = (await stack.exportStack()).deployment as { resources?: StateResource[] } | undefined;
    return state?.resources ?? [];
}

/** Resources of the stack's state other than the stack itself and its providers. */
async function managedResources(stack: auto.Stack): Promise<string[]> {
    const resources = await stateResources(stack);
    return resources.filter(r => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:")).map(r => r.urn);
}

export async function importExisting(stack: auto.Stack, options: ImportOptions): Promise<ImportResult> {
    const { out } = options;
    const existing = await managedResources(stack);
    if (existing.length > 0) {
        return {
            ok: false,
            imported: [],
            pending: [],
            error: `${stack.name} already has ${existing.length} resources in its state; import is for a stack's first up (use pulumi import for one object)`,
        };
    }
    let imported: string[];
    await stack.setConfig(importSetting, { value: "true" });
    try {
        const events: auto.EngineEvent[] = [];
        try {
            await stack.preview({ onEvent: event => events.push(event) });
        } catch (error) {
            return {
                ok: false,
                imported: [],
                pending: [],
                error: `the preview failed: ${diagnostics(events, "error")[0] ?? (error as Error).message.split("\n")[0]}`,
            };
        }
        const steps = changedSteps(resourceSteps(events));
        imported = steps
            .filter(step => step.op === "import")
            .map(step => `${step.type.split(":").pop()}/${step.name}`)
            .sort();
        out(`import: ${imported.length} existing object(s) adopted, ${steps.filter(step => step.op === "create").length} created:`);
        for (const line of describeSteps(steps)) out(`  ${line}`);
        if (imported.length === 0) return { ok: false, imported, pending: [], error: "the preview adopts nothing; check namespace, dbName and dbUser" };
        if (options.confirm && !(await options.confirm())) return { ok: false, imported: [], pending: [], error: "not confirmed; nothing changed" };
        const upEvents: auto.EngineEvent[] = [];
        try {
            await stack.up({ onEvent: event => upEvents.push(event) });
        } catch (error) {
            return {
                ok: false,
                imported: [],
                pending: [],
                error: `the update failed: ${diagnostics(upEvents, "error")[0] ?? (error as Error).message.split("\n")[0]}`,
            };
        }
        out(`import: done; ${imported.join(", ")} now belong to the stack`);
    } finally {
        await stack.removeConfig(importSetting);
    }
    const after: auto.EngineEvent[] = [];
    await stack.preview({ onEvent: event => after.push(event) });
    const pending = describeSteps(changedSteps(resourceSteps(after)));
    out(
        pending.length === 0
            ? "import: pulumi preview shows no changes"
            : `import: the next pulumi up changes:\n${pending.map(line => `  ${line}`).join("\n")}`,
    );
    return { ok: true, imported, pending };
}
