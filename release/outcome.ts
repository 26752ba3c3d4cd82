/**
 * What a step of a release ended with, typed: the deploy decides from these, never from the
 * printed lines. A step is `done`; the watch's `breach` says what it saw; `aborted` says who
 * stopped the release and why; `failed` carries the error and the live color as read back from
 * the cluster when it failed (release/clusterState.ts's {@link LiveColor}), never an assumed one.
 */
import { describeLive, LiveColor } from "./clusterState";

export type StepOutcome =
    | { kind: "done"; /** What is worth saying about it, e.g. `no breach`, `kept blue warm (--keep-warm)`. */ detail?: string }
    | { kind: "breach"; reason: string }
    | { kind: "aborted"; reason: string }
    | { kind: "failed"; error: string; live: LiveColor };

/** What the watch after a switch decided. */
export type WatchDecision = { kind: "healthy" } | { kind: "breach"; reason: string };

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
