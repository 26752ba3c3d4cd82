/**
 * `physioflow import <stack>`: a stack's first `up` over what the team already runs, set up by hand
 * from the runbook (`kubectl create namespace`, `kubectl apply` of the Deployments
 * `physioflow-api-blue`/`-green` and `physioflow-web-*`, the Services `physioflow-api` and
 * `physioflow-web`, the ConfigMap `migration-version`, the Secret `physioflow-secrets`). The
 * kubernetes provider refuses to create an object that exists, so that update must adopt them.
 *
 * Read state, decide, act, report:
 * 1. refused once the stack has resources (an import is for the first `up` only);
 * 2. the namespace is read: of the objects the program names (components/appNames.ts
 *    `namedObjects`), those found are adopted, the others created; what the program does not
 *    declare (the team's `physioflow-secrets`: the stack keeps each color's login in a Secret of
 *    its own) is left alone, and the report says so; refused when a live Service selects another
 *    color than the stack's `activeColor` (the next `up` would move traffic);
 * 3. `importExisting` and `importObjects` are set for one update: the program adopts (Pulumi's
 *    `import` resource option) the namespace, the database, the owner role and the objects found,
 *    each with `ignoreChanges` on what the team's object has of its own (labels, annotations, the
 *    Deployments' and Services' `spec`), so the adopting update only reads and records them: no
 *    pod template changes and no pod restarts (components/adoption.ts);
 * 4. a preview, a confirmation, the update, the settings removed whatever happened;
 * 5. a last preview of what the next `up` changes: which Deployments' pods it replaces (a changed
 *    pod template), what it deletes and re-creates, and whether a live Service's selector moves,
 *    so the team runs it when a restart suits them.
 */
import * as auto from "@pulumi/pulumi/automation";
import { allAppNames, namedObjects } from "../components/appNames";
import { secretName } from "../components/appNamespace";
import { Kubectl, kubectlGet } from "../devenv/kubectl";
import { changedSteps, describeSteps, diagnostics, resourceSteps, ResourceStep, shortType } from "./engineEvents";
import { upStack } from "./stackEngine";
import { Labels } from "./kubernetesObjects";

export const importSetting = "physioflow:importExisting";
export const importObjectsSetting = "physioflow:importObjects";

/** The stack, and the namespace its objects live in (a release target's fields). */
export interface ImportTarget {
    stack: auto.Stack;
    kubectl: Kubectl;
    namespace: string;
}

export interface ImportOptions {
    out: (line: string) => void;
    /** Asked after the preview; false stops with nothing changed. Default: yes. */
    confirm?: () => Promise<boolean>;
}

export interface ImportResult {
    ok: boolean;
    /** `Type/name` of each adopted object. */
    imported: string[];
    /** The objects the program names that were not found (`Kind/name`): created by the update. */
    created: string[];
    /** Objects of the namespace the stack does not declare (`Kind/name`): neither adopted nor deleted. */
    leftAlone: string[];
    /** What a `pulumi preview` after the import shows (`Type/name op [paths]`). */
    pending: string[];
    /** Deployments whose pods the next `up` replaces (their pod template changes). */
    restarts: string[];
    error?: string;
}

/** A resource of a stack's state as `stack.exportStack()` gives it: the fields read here and in the tests. */
export interface StateResource {
    urn: string;
    /** e.g. `kubernetes:core/v1:Namespace`. */
    type: string;
    /** The provider's id: `namespace/name` for a namespaced Kubernetes object. */
    id?: string;
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

/** An object of the namespace as {@link readNamespaceObjects} lists it. */
export interface NamespaceObject {
    kind: string;
    metadata: { name: string };
    /** A Secret's type, e.g. `kubernetes.io/service-account-token`. */
    type?: string;
    /** A Service's selector. */
    spec?: { selector?: Labels };
}

/** The Deployments, Services, ConfigMaps, Secrets and PodDisruptionBudgets of `namespace` (none when it does not exist). */
export async function readNamespaceObjects(kubectl: Kubectl, namespace: string): Promise<NamespaceObject[]> {
    const kinds = "deployments.apps,services,configmaps,secrets,poddisruptionbudgets.policy";
    return (await kubectlGet<{ items: NamespaceObject[] }>(kubectl, [kinds, "-n", namespace])).items;
}

/** What an import does with each object: pure, from the namespace's objects. */
export interface AdoptionPlan {
    /** Objects the program names and the namespace holds (`Kind/name`), in {@link namedObjects}' order. */
    adopt: string[];
    /** Objects the program names that the namespace lacks. */
    create: string[];
    /** The namespace's other objects, sorted; Kubernetes' own (`kube-root-ca.crt`, service account tokens) left out. */
    leftAlone: string[];
}

export function adoptionPlan(objects: readonly NamespaceObject[]): AdoptionPlan {
    const found = objects
        .filter(o => !(o.kind === "ConfigMap" && o.metadata.name === "kube-root-ca.crt") && o.type !== "kubernetes.io/service-account-token")
        .map(o => `${o.kind}/${o.metadata.name}`);
    const named = namedObjects();
    return {
        adopt: named.filter(object => found.includes(object)),
        create: named.filter(object => !found.includes(object)),
        leftAlone: found.filter(object => !named.includes(object)).sort(),
    };
}

/**
 * Why the import must not go on, when a live Service (e.g. `physioflow-api`) selects a color other
 * than the stack's `activeColor`: its first `up` would move the team's traffic. Undefined when
 * none does.
 */
export function liveColorConflict(objects: readonly NamespaceObject[], activeColor: string | undefined): string | undefined {
    for (const service of objects.filter(o => o.kind === "Service" && allAppNames.includes(o.metadata.name))) {
        const selected = service.spec?.selector?.version;
        if (selected !== undefined && activeColor !== undefined && selected !== activeColor) {
            return (
                `Service/${service.metadata.name} selects ${selected} but the stack's activeColor is ${activeColor}: the next up would move traffic; ` +
                `set activeColor to what is live (pulumi config set physioflow:activeColor ${selected}) and import again`
            );
        }
    }
    return undefined;
}

/** What the next `up` does that the team must plan for, from its preview's steps: pure. */
export function pendingEffects(steps: readonly ResourceStep[]): { restarts: string[]; replaced: string[]; moved: string[] } {
    const label = (step: ResourceStep) => `${shortType(step.type)}/${step.name}`;
    const changes = (step: ResourceStep, prefix: string) => step.diffs.some(path => path === prefix || path.startsWith(`${prefix}.`));
    return {
        restarts: steps
            .filter(s => shortType(s.type) === "Deployment" && s.op === "update" && changes(s, "spec.template"))
            .map(label)
            .sort(),
        replaced: steps
            .filter(s => s.op === "replace")
            .map(label)
            .sort(),
        moved: steps
            .filter(s => shortType(s.type) === "Service" && allAppNames.includes(s.name) && changes(s, "spec.selector"))
            .map(label)
            .sort(),
    };
}

function failed(error: string, leftAlone: string[] = []): ImportResult {
    return { ok: false, imported: [], created: [], leftAlone, pending: [], restarts: [], error };
}

/** The plan's lines of the report, as the preview confirmed it. */
function describePlan(namespace: string, plan: { adopted: string[]; created: string[]; leftAlone: string[] }): string[] {
    const lines = [
        `import: found in ${namespace}, adopted as they are (no pod restarted): ${plan.adopted.join(", ") || "none of the objects the stack names"}`,
        `import: not found, created: ${plan.created.join(", ") || "none"}`,
    ];
    if (plan.leftAlone.length > 0) {
        lines.push(`import: left alone (the stack does not declare them; nothing deletes them): ${plan.leftAlone.join(", ")}`);
    }
    if (plan.leftAlone.includes(`Secret/${secretName}`)) {
        lines.push(
            `import: the stack keeps each color's database login in a Secret of its own (${secretName}-<color>-…, created now); ` +
                `the adopted pods read Secret/${secretName} until the next up replaces them; delete it by hand after that`,
        );
    }
    return lines;
}

/** The pending preview's lines of the report. */
function describePending(pending: string[], effects: ReturnType<typeof pendingEffects>): string[] {
    if (pending.length === 0) return ["import: pulumi preview shows no changes"];
    const lines = [`import: the next pulumi up changes:\n${pending.map(line => `  ${line}`).join("\n")}`];
    if (effects.restarts.length > 0) {
        lines.push(
            `import: the next pulumi up replaces the pods of ${effects.restarts.join(", ")} (their pod template changes); run it when a restart suits you`,
        );
    }
    if (effects.replaced.length > 0) lines.push(`import: the next pulumi up deletes and re-creates ${effects.replaced.join(", ")}`);
    if (effects.moved.length > 0)
        lines.push(`import: the next pulumi up changes what ${effects.moved.join(", ")} select${effects.moved.length === 1 ? "s" : ""} (traffic moves)`);
    return lines;
}

export async function importExisting(target: ImportTarget, options: ImportOptions): Promise<ImportResult> {
    const { stack } = target;
    const { out } = options;
    const existing = await managedResources(stack);
    if (existing.length > 0) {
        return failed(
            `${stack.name} already has ${existing.length} resources in its state; import is for a stack's first up (use pulumi import for one object)`,
        );
    }
    const objects = await readNamespaceObjects(target.kubectl, target.namespace);
    const plan = adoptionPlan(objects);
    const conflict = liveColorConflict(objects, (await stack.getAllConfig())["physioflow:activeColor"]?.value);
    if (conflict !== undefined) return failed(conflict, plan.leftAlone);

    let imported: string[];
    let created: string[];
    let leftAlone = plan.leftAlone;
    const settings: auto.ConfigMap = { [importSetting]: { value: "true" } };
    if (plan.adopt.length > 0) settings[importObjectsSetting] = { value: plan.adopt.join(",") };
    await stack.setAllConfig(settings);
    try {
        const events: auto.EngineEvent[] = [];
        try {
            await stack.preview({ onEvent: event => events.push(event) });
        } catch (error) {
            return failed(`the preview failed: ${diagnostics(events, "error")[0] ?? (error as Error).message.split("\n")[0]}`, leftAlone);
        }
        const steps = changedSteps(resourceSteps(events));
        imported = steps
            .filter(step => step.op === "import")
            .map(step => `${shortType(step.type)}/${step.name}`)
            .sort();
        // A named object the program does not declare here (a PodDisruptionBudget with one replica) is neither adopted nor created.
        const planned = (op: string) => new Set(steps.filter(step => step.op === op).map(step => `${shortType(step.type)}/${step.name}`));
        created = plan.create.filter(object => planned("create").has(object));
        leftAlone = [...plan.leftAlone, ...plan.adopt.filter(object => !planned("import").has(object))].sort();
        for (const line of describePlan(target.namespace, { adopted: plan.adopt.filter(object => planned("import").has(object)), created, leftAlone }))
            out(line);
        out(`import: ${imported.length} existing object(s) adopted, ${steps.filter(step => step.op === "create").length} created:`);
        for (const line of describeSteps(steps)) out(`  ${line}`);
        if (imported.length === 0) return failed("the preview adopts nothing; check namespace, dbName and dbUser", leftAlone);
        if (options.confirm && !(await options.confirm())) return failed("not confirmed; nothing changed", leftAlone);
        const upEvents: auto.EngineEvent[] = [];
        try {
            await upStack(stack, { onEvent: event => upEvents.push(event) });
        } catch (error) {
            return failed(`the update failed: ${diagnostics(upEvents, "error")[0] ?? (error as Error).message.split("\n")[0]}`, leftAlone);
        }
        out(`import: done; ${imported.join(", ")} now belong to the stack`);
    } finally {
        await stack.removeAllConfig(Object.keys(settings));
    }
    const after: auto.EngineEvent[] = [];
    await stack.preview({ onEvent: event => after.push(event) });
    const nextSteps = changedSteps(resourceSteps(after));
    const pending = describeSteps(nextSteps);
    const effects = pendingEffects(nextSteps);
    for (const line of describePending(pending, effects)) out(line);
    return { ok: true, imported, created, leftAlone, pending, restarts: effects.restarts };
}
