/**
 * One real node per mocha worker (devenv/node.ts, docs/node.md), joined to the worker's shared
 * control plane (sharedCluster.ts) and started by the first suite that asks: a node costs seconds
 * of both cores and later suites (traffic, smoke Jobs) reuse it. Suites stay apart on it as on the
 * control plane, each in a namespace of its own. The node stops when the worker exits (before the
 * control plane: it deletes its Node object); should the worker be killed, the watchdog
 * scripts/node.sh leaves beside it stops it.
 */
import { RealNode } from "../../devenv/node";
import { startNodeWithStandIns } from "../../devenv/nodeTraffic";
import { sharedCluster } from "./sharedCluster";

let shared: Promise<RealNode> | undefined;

/** This worker's real node, started (and built when missing) by the first suite that asks. */
export function sharedNode(): Promise<RealNode> {
    // A failed start is kept: every suite of this worker then fails with the same one line.
    shared ??= (async () => {
        const progress = (line: string) => process.stderr.write(`node: ${line}\n`);
        // The same start as npm run local's: the stand-in images imported.
        return (await startNodeWithStandIns(await sharedCluster(), progress)).node;
    })();
    return shared;
}
