/**
 * Is this checkout's stack file the release that is live? A release's state is in three places:
 * the operator's stack file (`Pulumi.<stack>.yaml`), the stack's last outputs and the cluster. The
 * last two are the truth. Every release command compares the first with them before it changes
 * anything and refuses a disagreement in one line (`physioflow sync` writes the truth into the
 * file), so an older checkout cannot move production back to an older release.
 *
 * A stack file ahead of the outputs by exactly the config a command recorded before writing it
 * (the release record's `pendingConfig`: an update cut short, an emergency rollback whose
 * reconcile has not run) is not stale: the next command resumes from it.
 */
import type * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as path from "path";
import { Color, isColor, otherColor } from "../components/colors";
import { kubectlGet } from "../devenv/kubectl";
import { Kubectl, liveServices } from "./clusterState";
import { lastOutputs } from "./stackEngine";
import type { List, Service } from "./kubernetesObjects";
import type { ReleaseSettings } from "./types";
import { readReleaseRecord } from "./releaseRecord";

/** The stack settings a release moves: what is compared between a checkout and its stack. */
export const releaseKeys = ["activeColor", "blueTag", "greenTag", "inactiveWarm", "migrationTarget"] as const;
export type ReleaseKey = (typeof releaseKeys)[number];
/** Release settings as stack config values (`inactiveWarm` "true" or "false"); a key not set is absent. */
export type ReleaseValues = Partial<Record<ReleaseKey, string>>;

/** What the stack and its cluster say. */
export interface StackTruth {
    /** The release settings of the stack's last update (its outputs): only the keys they hold; undefined before its first update. */
    outputs?: ReleaseValues;
    /** The release record's `pendingConfig`: written to a stack file, not applied yet. */
    pending?: Record<string, string>;
    /** The color each live Service selects (a Service that does not exist is absent). */
    live: Record<string, string>;
}

/** The stack file the truth says, and where that comes from. */
export interface ExpectedCheckout {
    values: ReleaseValues;
    /**
     * stack: the last update (and the cluster, which agrees); pending: the last update and the
     * config a command wrote and has not applied; cluster: the live Services moved outside the stack
     * (the runbook's `kubectl patch`); mixed: the live Services select different colors and nothing explains it.
     */
    source: "stack" | "pending" | "cluster" | "mixed";
    /** Config to record as pending before the file says it (the cluster's color), so the check accepts the file. */
    recordPending?: Record<string, string>;
}

export type CheckoutVerdict = { agrees: true; resumes: boolean } | { agrees: false; expected: ExpectedCheckout };

/** A release command refused before any change: the stack file disagrees with the stack and its cluster. */
export class StaleCheckoutError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StaleCheckoutError";
    }
}

/** The checkout's release values, from its settings as the release commands read them (tags defaulted as the program does). Pure. */
export function checkoutValues(settings: Pick<ReleaseSettings, "activeColor" | "tags" | "inactiveWarm" | "migrationTarget">): ReleaseValues {
    return {
        activeColor: settings.activeColor,
        blueTag: settings.tags.blue,
        greenTag: settings.tags.green,
        inactiveWarm: String(settings.inactiveWarm),
        ...(settings.migrationTarget !== undefined ? { migrationTarget: settings.migrationTarget } : {}),
    };
}

/** The release values of the stack's last update, from its outputs; undefined without a valid `activeColor` and `tags`. Pure. */
export function outputValues(outputs: Record<string, unknown>): ReleaseValues | undefined {
    const color = outputs.activeColor;
    const tags = outputs.tags as Partial<Record<Color, unknown>> | undefined;
    if (typeof color !== "string" || !isColor(color) || typeof tags !== "object" || tags === null) return undefined;
    if (typeof tags.blue !== "string" || typeof tags.green !== "string") return undefined;
    const values: ReleaseValues = { activeColor: color, blueTag: tags.blue, greenTag: tags.green };
    if (typeof outputs.inactiveWarm === "boolean") values.inactiveWarm = String(outputs.inactiveWarm);
    if (typeof outputs.migrationTarget === "string") values.migrationTarget = outputs.migrationTarget;
    return values;
}

/** The keys compared: those the outputs hold (`migrationTarget` only when they have it). */
function comparedKeys(outputs: ReleaseValues): ReleaseKey[] {
    return releaseKeys.filter(key => outputs[key] !== undefined);
}

function pendingValues(truth: StackTruth, keys: readonly ReleaseKey[]): ReleaseValues {
    return Object.fromEntries(keys.filter(key => truth.pending?.[key] !== undefined).map(key => [key, truth.pending![key]]));
}

/** What the stack file should say; undefined before the stack's first update (nothing to compare). Pure. */
export function expectedCheckout(truth: StackTruth): ExpectedCheckout | undefined {
    if (truth.outputs === undefined) return undefined;
    const pending = pendingValues(truth, comparedKeys(truth.outputs));
    const values = { ...truth.outputs, ...pending };
    const explained = [truth.outputs.activeColor, pending.activeColor];
    const live = Object.values(truth.live);
    const moved = [...new Set(live.filter(color => !explained.includes(color)))];
    if (moved.length === 1 && live.every(color => color === moved[0])) {
        return { values: { ...values, activeColor: moved[0] }, source: "cluster", recordPending: { activeColor: moved[0] } };
    }
    if (moved.length > 0) return { values, source: "mixed" };
    return { values, source: Object.keys(pending).length > 0 ? "pending" : "stack" };
}

/**
 * Compares the checkout's values with the truth. Agrees: the file says what the last update did
 * and every live Service selects its color; or (`resumes`) the file is ahead by exactly the
 * pending config and every live Service selects the old or the pending color (a switch cut short). Pure.
 */
export function compareCheckout(file: ReleaseValues, truth: StackTruth): CheckoutVerdict {
    const expected = expectedCheckout(truth);
    if (expected === undefined || truth.outputs === undefined) return { agrees: true, resumes: false };
    const keys = comparedKeys(truth.outputs);
    const same = (a: ReleaseValues, b: ReleaseValues) => keys.every(key => a[key] === b[key]);
    const live = Object.values(truth.live);
    const outputs = truth.outputs;
    if (same(file, outputs) && live.every(color => color === outputs.activeColor)) return { agrees: true, resumes: false };
    const pending = pendingValues(truth, keys);
    const ahead = { ...outputs, ...pending };
    if (Object.keys(pending).length > 0 && same(file, ahead) && live.every(color => color === outputs.activeColor || color === ahead.activeColor)) {
        return { agrees: true, resumes: true };
    }
    return { agrees: false, expected };
}

/** `blue live with v1.2.0`, and when both sides say that, what else differs: `green at v1.1.0 and warm`. */
function describeValues(values: ReleaseValues, other: ReleaseValues): string {
    const headline = (v: ReleaseValues) => `${v.activeColor} live with ${v[`${v.activeColor as Color}Tag`]}`;
    if (headline(values) !== headline(other) || !isColor(values.activeColor ?? "")) return headline(values);
    const inactive = otherColor(values.activeColor as Color);
    const extras: string[] = [];
    if (values[`${inactive}Tag`] !== other[`${inactive}Tag`]) extras.push(`${inactive} at ${values[`${inactive}Tag`]}`);
    if (values.inactiveWarm !== other.inactiveWarm) extras.push(values.inactiveWarm === "true" ? `${inactive} warm` : `${inactive} not warm`);
    if (values.migrationTarget !== other.migrationTarget) extras.push(`migration target ${values.migrationTarget ?? "unset"}`);
    return [headline(values), ...extras].join(" and ");
}

/**
 * The one line a refusal prints: both sides and the fix, e.g. `Pulumi.prod.yaml is out of date: it
 * says blue live with v1.0.0, the stack's last update and the cluster have green live with v1.1.0;
 * run physioflow sync prod (or pull the latest checkout)`. Pure.
 */
export function describeDisagreement(file: ReleaseValues, truth: StackTruth, expected: ExpectedCheckout, where: { file: string; stack: string }): string {
    const fix = `run physioflow sync ${where.stack} (or pull the latest checkout)`;
    if (expected.source === "mixed") {
        const selects = Object.entries(truth.live).map(([service, color]) => `${service} ${color}`);
        return (
            `the live Services select different colors (${selects.join(", ")}) and neither the stack's last update nor a change in progress explains it; ` +
            `patch them to one color (kubectl patch service), then run physioflow sync ${where.stack}`
        );
    }
    const theirs = describeValues(expected.values, file);
    const hasLive = Object.keys(truth.live).length > 0;
    const who =
        expected.source === "cluster"
            ? `the cluster has ${theirs} (the stack's last update: ${describeValues(truth.outputs!, file)})`
            : expected.source === "pending"
              ? `the stack (its last update and a change still being applied: ${describePending(truth, expected)})${hasLive ? " and the cluster" : ""} ${hasLive ? "have" : "has"} ${theirs}`
              : `the stack's last update${hasLive ? " and the cluster have" : " has"} ${theirs}`;
    return `${where.file} is out of date: it says ${describeValues(file, expected.values)}, ${who}; ${fix}`;
}

function describePending(truth: StackTruth, expected: ExpectedCheckout): string {
    return Object.entries(truth.pending ?? {})
        .filter(([key]) => key in expected.values)
        .map(([key, value]) => `${key} ${value}`)
        .join(", ");
}

/** The stack's settings file in its workspace (`Pulumi.<stack>.yaml`, or .yml/.json when that is the one there). */
export function stackFilePath(stack: auto.Stack): string {
    const candidates = ["yaml", "yml", "json"].map(ext => path.join(stack.workspace.workDir, `Pulumi.${stack.name}.${ext}`));
    return candidates.find(file => fs.existsSync(file)) ?? candidates[0];
}

/** A path as a person finds it: relative to the current directory when inside it. */
export function shownPath(file: string): string {
    const relative = path.relative(process.cwd(), file);
    return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** Reads the truth: the stack's last outputs, the release record's pending config, the live Services' selectors. */
export async function readStackTruth(target: { stack: auto.Stack; kubectl: Kubectl; namespace: string }): Promise<StackTruth> {
    const [outputs, record, services] = await Promise.all([
        lastOutputs(target.stack),
        readReleaseRecord(target.kubectl, target.namespace),
        kubectlGet<List<Service>>(target.kubectl, ["services", "-n", target.namespace]).then(list => list.items),
    ]);
    const live: Record<string, string> = {};
    for (const service of services) {
        const color = service.spec?.selector?.version;
        if (liveServices.includes(service.metadata.name) && typeof color === "string") live[service.metadata.name] = color;
    }
    return { outputs: outputValues(outputs), pending: record.pendingConfig, live };
}

/**
 * Before a release command changes anything: throws {@link StaleCheckoutError} (one line, both
 * sides and the fix) when the stack file's release settings disagree with the stack's last update
 * and the cluster. Resolves to whether the file is ahead by a change in progress.
 */
export async function refuseStaleCheckout(
    target: { stack: auto.Stack; kubectl: Kubectl; namespace: string },
    settings: Pick<ReleaseSettings, "activeColor" | "tags" | "inactiveWarm" | "migrationTarget">,
): Promise<{ resumes: boolean }> {
    const truth = await readStackTruth(target);
    const file = checkoutValues(settings);
    const verdict = compareCheckout(file, truth);
    if (verdict.agrees) return verdict;
    throw new StaleCheckoutError(
        describeDisagreement(file, truth, verdict.expected, { file: shownPath(stackFilePath(target.stack)), stack: target.stack.name }),
    );
}
