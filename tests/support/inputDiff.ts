import { ProgramRun } from "./programRun";

/** One changed leaf between two program runs, e.g. `kubernetes:core/v1:Service/physioflow-api spec.selector.version`. */
export interface InputChange {
    resource: string;
    path: string;
    before: unknown;
    after: unknown;
}

/** Every input that differs between two runs; an added or removed resource shows with path `(resource)`. */
export function diffRuns(before: ProgramRun, after: ProgramRun): InputChange[] {
    const index = (run: ProgramRun) => new Map(run.resources.map(r => [`${r.type}/${r.name}`, r.inputs]));
    const a = index(before);
    const b = index(after);
    const changes: InputChange[] = [];
    for (const key of new Set([...a.keys(), ...b.keys()])) {
        if (!a.has(key) || !b.has(key)) {
            changes.push({ resource: key, path: "(resource)", before: a.has(key), after: b.has(key) });
            continue;
        }
        diffValues(a.get(key), b.get(key), "", (path, x, y) => changes.push({ resource: key, path, before: x, after: y }));
    }
    return changes;
}

function diffValues(x: unknown, y: unknown, path: string, report: (path: string, x: unknown, y: unknown) => void): void {
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
    if (isObject(x) && isObject(y)) {
        for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
            diffValues(x[key], y[key], path === "" ? key : `${path}.${key}`, report);
        }
    } else if (x !== y) {
        report(path, x, y);
    }
}

/** Pulumi's marker for a secret value as the mock monitor receives it. */
const secretSig = "4dabf18193072939515e22adb298388d";

/** True when a recorded input is a Pulumi secret. */
export function isSecretInput(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[secretSig] === "1b47061264138c4ac30d75fd1eb44270";
}
