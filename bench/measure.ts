/** Paired timing: A and B alternate (A B, B A, A B, ...) so drift on a busy machine hits both alike. */

export interface Side {
    /** Markdown cell text. */
    label: string;
    run: () => Promise<void>;
}

export interface Measurement {
    name: string;
    a: { label: string; runs: number[] };
    b: { label: string; runs: number[] };
}

export async function pairedRounds(options: { name: string; a: Side; b: Side; rounds: number; log: (line: string) => void }): Promise<Measurement> {
    const result: Measurement = { name: options.name, a: { label: options.a.label, runs: [] }, b: { label: options.b.label, runs: [] } };
    const time = async (side: Side, into: number[]) => {
        const started = process.hrtime.bigint();
        await side.run();
        into.push(Number(process.hrtime.bigint() - started) / 1e6);
    };
    // One unmeasured run of each first: page cache, plan caches and module loading are the same for both afterwards.
    await options.a.run();
    await options.b.run();
    for (let round = 1; round <= options.rounds; round++) {
        if (round % 2) {
            await time(options.a, result.a.runs);
            await time(options.b, result.b.runs);
        } else {
            await time(options.b, result.b.runs);
            await time(options.a, result.a.runs);
        }
        options.log(
            `bench: ${options.name}: round ${round}/${options.rounds}: ${result.a.runs[round - 1].toFixed(0)} ms vs ${result.b.runs[round - 1].toFixed(0)} ms`,
        );
    }
    return result;
}
