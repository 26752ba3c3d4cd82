/**
 * Throwaway stacks on the real Pulumi engine (scripts/engine.sh) for tests: local/scratchStack.ts's
 * stacks, with the engine found once per test run. No engine or cluster is an error that says how
 * to get one, never a skip.
 */
import { findEngine, PulumiEngine } from "../../devenv/engine";
import { createScratchClusterStack, ScratchClusterStack } from "../../local/scratchStack";

export type { Operation } from "../../local/scratchStack";

let engine: Promise<PulumiEngine> | undefined;

/** The engine, found once per test run (engine.sh builds it first if it is missing). */
export function testEngine(): Promise<PulumiEngine> {
    engine ??= findEngine(line => process.stderr.write(`${line}\n`));
    return engine;
}

/** A stack of the cluster half in a temp dir (local/scratchStack.ts). */
export type TestClusterStack = ScratchClusterStack;

/**
 * A new stack `name` with the local settings and fresh secrets, deploying to the cluster whose
 * kubeconfig is `target.kubeconfig` (in `target.namespace`, default the local stack's
 * `physioflow-local`), or rendering to a temp folder with `{ render: true }`.
 */
export async function createTestClusterStack(
    name: string,
    target: { kubeconfig: string; namespace?: string; node?: { label: string; dbHost: string } } | { render: true },
): Promise<TestClusterStack> {
    return createScratchClusterStack(name, target, await testEngine());
}
