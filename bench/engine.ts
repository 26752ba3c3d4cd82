/**
 * The program half of `npm run bench`: how long index.ts takes to register every resource of each
 * stack under Pulumi's mocks, and a no-change `pulumi preview` of the local stack on the real engine
 * (rendering manifests, so no cluster is needed).
 */
import { runUnderMocks, stackConfigWithSecrets } from "./programUnderMocks";
import { findEngine } from "../devenv/engine";
import { createScratchClusterStack } from "../local/scratchStack";

export interface EngineBenchResult {
    rows: { label: string; runs: number[] }[];
}

export async function benchEngine(options: { rounds: number; log: (line: string) => void }): Promise<EngineBenchResult> {
    const rows: EngineBenchResult["rows"] = [];
    for (const stack of ["dev", "staging", "prod"]) {
        const runs: number[] = [];
        let resources = 0;
        await runUnderMocks(stack, stackConfigWithSecrets(stack)); // unmeasured: module loading
        for (let round = 0; round < options.rounds; round++) {
            let registered = 0;
            const started = process.hrtime.bigint();
            await runUnderMocks(stack, stackConfigWithSecrets(stack), {}, () => registered++);
            runs.push(Number(process.hrtime.bigint() - started) / 1e6);
            resources = registered;
        }
        options.log(`bench: program evaluation of ${stack}: ${runs.map(r => r.toFixed(0)).join(", ")} ms`);
        rows.push({ label: `program evaluation under mocks, \`${stack}\` (${resources} resources registered)`, runs });
    }

    options.log("bench: no-change pulumi preview of the local stack (real engine, rendering) ...");
    const stack = await createScratchClusterStack("benchpreview", { render: true }, await findEngine(options.log));
    try {
        await stack.up();
        const runs: number[] = [];
        for (let round = 0; round < options.rounds; round++) {
            const started = process.hrtime.bigint();
            const preview = await stack.preview();
            runs.push(Number(process.hrtime.bigint() - started) / 1e6);
            // A `read` is the program reading its own last outputs (the release guard's StackReference), not a change.
            const changes = Object.entries(preview.result.changeSummary ?? {}).filter(([op, n]) => op !== "same" && op !== "read" && (n ?? 0) > 0);
            if (changes.length > 0) throw new Error(`the no-change preview wants changes: ${JSON.stringify(preview.result.changeSummary)}`);
        }
        options.log(`bench: preview: ${runs.map(r => r.toFixed(0)).join(", ")} ms`);
        rows.push({ label: "no-change `pulumi preview` of the local stack (real engine, Automation API, rendering)", runs });
    } finally {
        await stack.remove();
    }
    return { rows };
}
