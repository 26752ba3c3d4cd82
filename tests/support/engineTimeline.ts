/**
 * The order in which the engine started and finished each step of an update, from its events:
 * what the tests check the program's ordering against (release/engineEvents.ts has what the
 * release commands report).
 */
import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";
import { nameOf } from "../../release/engineEvents";

/** When the engine started (`resourcePreEvent`) and finished (`resOutputsEvent`) a step, or a step failed. */
export interface TimelineEntry {
    phase: "start" | "done" | "failed";
    type: string;
    name: string;
    op: OpType;
}

/** Start, finish and failure of every step, in event order. */
export function timeline(events: readonly EngineEvent[]): TimelineEntry[] {
    return events.flatMap((event): TimelineEntry[] => {
        const entry = (phase: TimelineEntry["phase"], metadata: StepEventMetadata) => [
            { phase, type: metadata.type, name: nameOf(metadata.urn), op: metadata.op },
        ];
        if (event.resourcePreEvent) return entry("start", event.resourcePreEvent.metadata);
        if (event.resOutputsEvent) return entry("done", event.resOutputsEvent.metadata);
        if (event.resOpFailedEvent) return entry("failed", event.resOpFailedEvent.metadata);
        return [];
    });
}

/** Index in a timeline of a step's phase; -1 when it is not there. */
export function indexOf(entries: readonly TimelineEntry[], phase: TimelineEntry["phase"], type: string, name: string): number {
    return entries.findIndex(e => e.phase === phase && e.type === type && e.name === name);
}
