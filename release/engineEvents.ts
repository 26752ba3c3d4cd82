/**
 * Engine events of a preview or update, boiled down to what a person (or a test) asks: which
 * resources change and how; an engine error as one line. Pure.
 */
import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";

/** One step the engine planned or took for a resource. */
export interface ResourceStep {
    urn: string;
    /** e.g. `kubernetes:apps/v1:Deployment`. */
    type: string;
    /** The resource's name, the last part of its URN, e.g. `physioflow-api-green`. */
    name: string;
    /** `same`, `create`, `update`, `replace`, `delete`, ... */
    op: OpType;
    /** Changed property paths, e.g. `spec.selector.version`; empty for create, delete and same. */
    diffs: string[];
    /** Paths whose change forces a replacement. */
    replaceBecause: string[];
}

/** Every resource step, in the order the engine announced them. */
export function resourceSteps(events: readonly EngineEvent[]): ResourceStep[] {
    return events.flatMap(event => {
        const metadata = event.resourcePreEvent?.metadata;
        return metadata ? [stepOf(metadata)] : [];
    });
}

/** The steps that change something: everything but `same` and `read` (the program reading its own last outputs). */
export function changedSteps(steps: readonly ResourceStep[]): ResourceStep[] {
    return steps.filter(step => step.op !== "same" && step.op !== "read");
}

/** `Type/name op [paths]` lines, sorted: the compact form tests compare against. */
export function describeSteps(steps: readonly ResourceStep[]): string[] {
    return steps.map(step => `${shortType(step.type)}/${step.name} ${step.op}${step.diffs.length ? ` [${step.diffs.join(", ")}]` : ""}`).sort();
}

/** The engine's warnings and errors, each once, trimmed. */
export function diagnostics(events: readonly EngineEvent[], severity: "warning" | "error"): string[] {
    const messages = events.flatMap(event => (event.diagnosticEvent?.severity === severity ? [event.diagnosticEvent.message.trim()] : []));
    return [...new Set(messages)];
}

/** Counts of steps per operation, e.g. `{ update: 2, same: 17 }`. */
export function countOps(steps: readonly ResourceStep[]): Partial<Record<OpType, number>> {
    const counts: Partial<Record<OpType, number>> = {};
    for (const step of steps) counts[step.op] = (counts[step.op] ?? 0) + 1;
    return counts;
}

/** `kubernetes:apps/v1:Deployment` -> `Deployment`, `physioflow:k8s:BlueGreenApp` -> `BlueGreenApp`, `pulumi:providers:kubernetes` -> `provider:kubernetes`. */
export function shortType(type: string): string {
    const parts = type.split(":");
    if (parts[0] === "pulumi" && parts[1] === "providers") return `provider:${parts[2]}`;
    return parts[parts.length - 1];
}

function stepOf(metadata: StepEventMetadata): ResourceStep {
    const detailed = metadata.detailedDiff ?? undefined;
    const diffs = detailed ? Object.keys(detailed) : (metadata.diffs ?? []);
    const replaceBecause = detailed
        ? Object.entries(detailed)
              .filter(([, d]) => d.diffKind.endsWith("-replace"))
              .map(([key]) => key)
        : metadata.op.includes("replace")
          ? (metadata.keys ?? [])
          : [];
    return {
        urn: metadata.urn,
        type: metadata.type,
        name: nameOf(metadata.urn),
        op: metadata.op,
        diffs: metadata.op === "same" ? [] : [...diffs].sort(),
        replaceBecause: [...replaceBecause].sort(),
    };
}

/** A resource's name: the last part of its URN. */
export function nameOf(urn: string): string {
    return urn.split("::").pop() ?? urn;
}

const symbols: Record<string, string> = {
    create: "+",
    update: "~",
    delete: "-",
    replace: "+-",
    "create-replacement": "++",
    "delete-replaced": "--",
    same: "=",
};

/**
 * One line per resource the engine would change (the stack resource itself and reads of the
 * stack's own last outputs left out), then how many stay as they are. Component resources are listed too: they are what the engine records.
 */
export function formatSteps(steps: readonly ResourceStep[]): string[] {
    const shown = steps.filter(step => step.type !== "pulumi:pulumi:Stack" && step.op !== "read");
    // The engine works on independent resources concurrently, so its order varies: sort for reading.
    const changed = shown.filter(isListedChange).sort((a, b) => `${shortType(a.type)} ${a.name}`.localeCompare(`${shortType(b.type)} ${b.name}`));
    const width = Math.max(0, ...changed.map(step => `${shortType(step.type)} ${step.name}`.length));
    const lines = changed.map(step => formatStep(step, width));
    const unchanged = shown.length - changed.length;
    if (changed.length === 0) return [`no changes (${unchanged} resources unchanged)`];
    return [...lines, `${unchanged} unchanged`];
}

/**
 * One changed step as {@link formatSteps} lists it (`~ Deployment physioflow-api-green  update  spec.replicas`),
 * the resource's name padded to `width`; undefined for a step it leaves out (unchanged, a read, the stack itself).
 */
export function formatStep(step: ResourceStep, width = 0): string {
    const what = `${shortType(step.type)} ${step.name}`.padEnd(width);
    const paths = step.diffs.length ? `  ${step.diffs.join(", ")}` : "";
    const replace = step.replaceBecause.length ? `  (replaced because of ${step.replaceBecause.join(", ")})` : "";
    return `${symbols[step.op] ?? "?"} ${what}  ${step.op}${paths}${replace}`;
}

/** Whether a step is a change {@link formatSteps} lists (not the stack resource, a read or an unchanged resource). */
export function isListedChange(step: ResourceStep): boolean {
    return step.type !== "pulumi:pulumi:Stack" && step.op !== "read" && step.op !== "same";
}

/** `2 to update, 17 unchanged`, from the steps (stack resource and reads left out). */
export function summarizeSteps(steps: readonly ResourceStep[], tense: "will" | "did"): string {
    const counts = countOps(steps.filter(step => step.type !== "pulumi:pulumi:Stack" && step.op !== "read"));
    const words: Record<string, [string, string]> = {
        create: ["to create", "created"],
        update: ["to update", "updated"],
        replace: ["to replace", "replaced"],
        delete: ["to delete", "deleted"],
        same: ["unchanged", "unchanged"],
    };
    const order = ["create", "update", "replace", "delete"];
    const rank = (op: string) => (op === "same" ? 99 : order.includes(op) ? order.indexOf(op) : 50);
    return Object.entries(counts)
        .sort(([a], [b]) => rank(a) - rank(b))
        .map(([op, n]) => `${n} ${(words[op] ?? [op, op])[tense === "will" ? 0 : 1]}`)
        .join(", ");
}

/**
 * One line from an engine error (its output is long): the failing resource's name and the first
 * reason given for it, e.g. `physioflow-smoke-blue: the Kubernetes API server reported that ...`.
 * Any other error gives its first line (to fold a whole message, see messageOnOneLine in database/errors.ts).
 */
export function engineErrorSummary(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    const lines = message
        .split("\n")
        .map(line => line.trim())
        .filter(Boolean);
    let at = lines.findIndex(line => /^\* /.test(line));
    if (at === -1) at = lines.findIndex(line => /^error: /.test(line) && !/^error: (update|preview) failed$/.test(line) && !/errors? occurred/.test(line));
    if (at === -1) return lines[0] ?? message;
    const reason = lines[at].replace(/^(\* |error: )/, "");
    // The resource the engine reported it under: the nearest `type (name):` line above, not the stack's.
    const resource = lines
        .slice(0, at)
        .reverse()
        .map(line => /^([\w-]+:[\w/.-]+:\w+) \(([^)]+)\):$/.exec(line))
        .find(match => match && match[1] !== "pulumi:pulumi:Stack")?.[2];
    // The engine names resources by URN; a person knows them by name.
    const readable = reason.replace(/resource "urn:pulumi:[^"]*::([^":]+)"/g, "$1");
    return resource && !readable.includes(resource) ? `${resource}: ${readable}` : readable;
}
