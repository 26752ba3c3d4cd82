/**
 * `npm run bench:switch [-- --rounds N]`: how long a switch of the live Service takes, from the
 * decision to the moment its EndpointSlice holds only the other color's ready pods, on one real
 * control plane, in one run, paired round by round:
 *   (a) `kubectl patch svc` of the selector: the runbook's emergency rollback;
 *   (b) flipping `activeColor` and `pulumi up` through the Automation API: this project's switch.
 * Both colors are kept warm (1 ready pod each), so the switch itself is measured, not a scale-up.
 * Then, with the other color scaled down:
 *   (c) `physioflow rollback --emergency` to that cold color (release/rollback.ts): scaled, awaited
 *       ready and smoke-tested through the API, the Services patched, then the stack reconciled;
 *       timed to traffic moved and to its end, beside its pods' readiness and its smoke test.
 * Prints the medians and the ratio b/a. Not a test: nothing here passes or fails on time.
 */
import { spawnSync } from "child_process";
import * as os from "os";
import { startCluster } from "../devenv/cluster";
import { onlyColor, watchEndpoints } from "./endpointWatch";
import { findEngine } from "../devenv/engine";
import { createScratchClusterStack } from "../local/scratchStack";
import { rollback } from "../release/rollback";

const namespace = "physioflow-local";
const service = "physioflow-api";

async function main(): Promise<void> {
    const roundsArg = process.argv.indexOf("--rounds");
    const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new Error("--rounds takes a whole number from 1 to 50");
    const log = (line: string) => process.stderr.write(`${line}\n`);

    const cluster = await startCluster({ progress: line => log(`cluster: ${line}`) });
    const stack = await createScratchClusterStack("benchswitch", { kubeconfig: cluster.kubeconfigPath }, await findEngine(log));
    try {
        await stack.set({ inactiveReplicas: "1" });
        log("bench: first deploy (both colors warm)");
        await stack.up();
        const watch = await watchEndpoints(cluster.kubeconfigPath, namespace, service);
        await watch.until(onlyColor("blue", 1));

        const patch: number[] = [];
        const up: number[] = [];
        let live = "blue";
        for (let round = 1; round <= rounds; round++) {
            // (a) kubectl patch, there and back, so the declared state stays true for (b)
            for (const target of [live === "blue" ? "green" : "blue", live]) {
                const started = Date.now();
                const result = spawnSync(
                    `${cluster.binDir}/kubectl`,
                    [
                        "--kubeconfig",
                        cluster.kubeconfigPath,
                        "patch",
                        "svc",
                        service,
                        "-n",
                        namespace,
                        "-p",
                        JSON.stringify({ spec: { selector: { version: target } } }),
                    ],
                    { encoding: "utf8" },
                );
                if (result.status !== 0) throw new Error(`kubectl patch failed: ${result.stderr.trim()}`);
                patch.push((await watch.until(onlyColor(target, 1))) - started);
            }
            // (b) the stack update
            const target = live === "blue" ? "green" : "blue";
            const started = Date.now();
            const reached = watch.until(onlyColor(target, 1), 5 * 60_000);
            await stack.set({ activeColor: target });
            await stack.up();
            up.push((await reached) - started);
            live = target;
            log(`bench: round ${round}/${rounds}: kubectl patch ${patch.slice(-2).join(", ")} ms; activeColor + pulumi up ${up[up.length - 1]} ms`);
        }

        // (c) the emergency rollback to a cold color, each round from the other color scaled down
        const coldRounds = Math.min(rounds, 3);
        const cold = { moved: [] as number[], total: [] as number[], ready: [] as number[], smoke: [] as number[] };
        const target = { stack: stack.stack, kubectl: cluster.kubectl, namespace };
        await stack.set({ inactiveReplicas: "0" });
        await stack.up();
        for (let round = 1; round <= coldRounds; round++) {
            const to = live === "blue" ? "green" : "blue";
            const started = Date.now();
            const reached = watch.until(onlyColor(to, 1), 5 * 60_000);
            const result = await rollback(target, { emergency: true });
            const ended = Date.now();
            if (!result.ok || result.coldStart === undefined)
                throw new Error(`the emergency rollback to cold ${to} failed: ${result.error ?? "no cold start"}`);
            cold.moved.push((await reached) - started);
            cold.total.push(ended - started);
            cold.ready.push(result.coldStart.readyMs);
            cold.smoke.push(result.coldStart.smokeMs);
            live = to;
            log(
                `bench: cold round ${round}/${coldRounds}: traffic moved ${cold.moved[round - 1]} ms (ready ${result.coldStart.readyMs} ms, ` +
                    `smoke test ${result.coldStart.smokeMs} ms), with the reconcile ${cold.total[round - 1]} ms`,
            );
            await stack.set({ inactiveWarm: "false" }); // the old color cold again for the next round
            await stack.up();
        }
        watch.close();

        const a = median(patch);
        const b = median(up);
        const lines = [
            `| switch of the live Service (decision -> EndpointSlice holds only the other color's ready pods) | median | runs |`,
            `| --- | --- | --- |`,
            `| (a) kubectl patch svc (runbook's emergency rollback) | ${a} ms | ${patch.length} |`,
            `| (b) activeColor + pulumi up (Automation API) | ${b} ms | ${up.length} |`,
            `| ratio b/a | ${(b / a).toFixed(1)}x | |`,
            "",
            `| emergency rollback to a cold color (\`rollback --emergency\`) | median | runs |`,
            `| --- | --- | --- |`,
            `| (c) decision -> EndpointSlice holds only the cold color's ready pods | ${median(cold.moved)} ms | ${cold.moved.length} |`,
            `| of which: its pods ready (from the scale) | ${median(cold.ready)} ms | |`,
            `| of which: its smoke test (one-off Job) | ${median(cold.smoke)} ms | |`,
            `| (c) with the stack reconciled (the command's end) | ${median(cold.total)} ms | |`,
            "",
            `${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}, Kubernetes v1.37.2 control plane with a kwok node on 127.0.0.1`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
    } finally {
        await stack.remove();
        await cluster.stop();
    }
}

function median(values: number[]): number {
    const sorted = [...values].sort((x, y) => x - y);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

main().catch(error => {
    process.stderr.write(`bench:switch: error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
    process.exitCode = 1;
});
