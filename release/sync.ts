/**
 * `physioflow sync <stack>`: the stack's live release state (its last update's outputs, a change
 * still being applied, the live Services) written into the checkout's stack file, one line per
 * setting changed; nothing changes when they agree. `--check` only compares (the up-dev workflow
 * runs it before its `pulumi up`).
 */
import * as auto from "@pulumi/pulumi/automation";
import { compareCheckout, checkoutValues, describeDisagreement, expectedCheckout, readStackTruth, ReleaseKey, shownPath, stackFilePath } from "./checkout";
import { readReleaseSettings } from "./operation";
import { ReleaseTarget } from "./types";
import { recordPendingConfig } from "./releaseRecord";

export interface SyncChange {
    key: ReleaseKey;
    /** The stack file's value; undefined when it was not set. */
    from?: string;
    to: string;
}

export interface SyncResult {
    /** The stack file, as shown to people. */
    file: string;
    /** What was written (with `check`: what would be). */
    changes: SyncChange[];
    /** The one-line disagreement, when the file disagreed (what a release command would have refused with). */
    disagreement?: string;
}

/** The settings to write: each key whose value in the file is not the expected one (a key not set counts as different, but `inactiveWarm` unset is "false"). Pure. */
export function syncChanges(literal: Partial<Record<ReleaseKey, string>>, expected: Partial<Record<ReleaseKey, string>>): SyncChange[] {
    const changes: SyncChange[] = [];
    for (const [key, to] of Object.entries(expected) as Array<[ReleaseKey, string | undefined]>) {
        if (to === undefined) continue;
        const from = literal[key];
        const same = key === "inactiveWarm" ? (from ?? "false") === to : from === to;
        if (!same) changes.push({ key, ...(from !== undefined ? { from } : {}), to });
    }
    return changes;
}

/** Compares the stack file with the stack and its cluster and, unless `check`, writes the truth into it. */
export async function syncCheckout(target: ReleaseTarget, options: { check?: boolean; out?: (line: string) => void } = {}): Promise<SyncResult> {
    const out = options.out ?? (() => undefined);
    const file = shownPath(stackFilePath(target.stack));
    const [settings, config, truth] = await Promise.all([readReleaseSettings(target.stack), target.stack.getAllConfig(), readStackTruth(target)]);
    const expected = expectedCheckout(truth);
    if (expected === undefined) {
        out(`${target.stack.name} has no update yet: nothing to sync`);
        return { file, changes: [] };
    }
    const verdict = compareCheckout(checkoutValues(settings), truth);
    if (verdict.agrees) {
        out(`${file} matches the stack's last update and the cluster; nothing changed`);
        return { file, changes: [] };
    }
    const disagreement = describeDisagreement(checkoutValues(settings), truth, expected, { file, stack: target.stack.name });
    if (expected.source === "mixed") throw new Error(disagreement);
    const literal = Object.fromEntries(Object.keys(expected.values).map(key => [key, config[`physioflow:${key}`]?.value]));
    const changes = syncChanges(literal, expected.values);
    changes.forEach(change => out(`${change.key}: ${change.from ?? "(unset)"} -> ${change.to}`));
    if (options.check) return { file, changes, disagreement };
    if (expected.recordPending) {
        // The file will say what the cluster does and the stack's outputs do not: recorded first, as a command does.
        await recordPendingConfig(target.kubectl, target.namespace, expected.recordPending);
        out(
            `release record: ${Object.entries(expected.recordPending)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")} pending until the next update applies it`,
        );
    }
    const write: auto.ConfigMap = {};
    for (const change of changes) write[`physioflow:${change.key}`] = { value: change.to };
    await target.stack.setAllConfig(write);
    out(`${file}: ${changes.length} setting${changes.length === 1 ? "" : "s"} written`);
    return { file, changes, disagreement };
}
