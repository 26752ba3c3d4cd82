/**
 * What a step of a release command ended with, typed: deploy, rollback (normal and `--emergency`)
 * and `rollback --restore` record every step with one of these, and decide from them, never from
 * the printed lines. A step is `done`; the watch's `breach` says what it saw; `aborted` says who
 * stopped the release and why; `failed` carries the error and the live color as read back from
 * the cluster when it failed (release/clusterState.ts's {@link LiveColor}), never an assumed one.
 * The types are in types.ts with the other shared ones; here their lines and their recording.
 */
import { describeLive, Kubectl, LiveColor, readLiveColor } from "./clusterState";
import { engineErrorSummary } from "./engineEvents";
import type { StepName, StepOutcome, StepResult } from "./types";

export type { StepOutcome, WatchDecision } from "./types";

/** The outcome as the one line of a step in the summary, e.g. `breach: …`, `failed: …; green is live`. */
export function describeOutcome(outcome: StepOutcome): string {
    switch (outcome.kind) {
        case "done":
            return outcome.detail ?? "done";
        case "breach":
            return `breach: ${outcome.reason}`;
        case "aborted":
            return `aborted: ${outcome.reason}`;
        case "failed":
            return `failed: ${outcome.error}; ${describeLive(outcome.live)}`;
    }
}

/** Seconds since `started` (a `Date.now()`), to a tenth. */
export function elapsed(started: number): number {
    return Math.round((Date.now() - started) / 100) / 10;
}

/** A step as the result records it: its outcome, its summary line ({@link describeOutcome}) and its seconds since `started`. */
export function recordStep(step: StepName, changes: string[], started: number, outcome: StepOutcome): StepResult {
    return { step, changes, seconds: elapsed(started), outcome, result: describeOutcome(outcome) };
}

/**
 * Runs one step of a rollback or a restore and records it in `steps`: `done` (with `detail`, the
 * step's line in the summary) and its changes, or, when it throws, `failed` with its error and the
 * live color read back from the cluster now (also in `ended.live`); the error is thrown on.
 */
export async function runStep(
    steps: StepResult[],
    cluster: { kubectl: Kubectl; namespace: string },
    step: StepName,
    action: () => Promise<{ changes?: string[]; detail?: string }>,
    ended: { live?: LiveColor } = {},
): Promise<void> {
    const started = Date.now();
    let done: { changes?: string[]; detail?: string };
    try {
        done = await action();
    } catch (error) {
        ended.live = await readLiveColor(cluster.kubectl, cluster.namespace);
        steps.push(recordStep(step, [], started, { kind: "failed", error: engineErrorSummary(error), live: ended.live }));
        throw error;
    }
    steps.push(recordStep(step, done.changes ?? [], started, { kind: "done", ...(done.detail === undefined ? {} : { detail: done.detail }) }));
}
