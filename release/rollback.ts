/**
 * Switching back to the other color. Normal: the stack's `activeColor` flipped with the old color
 * kept warm, previewed, applied; a color with no ready pods is first brought up through the stack
 * (its readiness and smoke test). Emergency (`--emergency`): everything through the API first, as
 * fast as the runbook's `kubectl scale` and `kubectl patch` (a cold color scaled, awaited ready and
 * smoke-tested by release/emergency.ts), then the stack is set to match and reconciled, so the
 * next preview shows no change and the next update no conflict. Never a switch to a cold color.
 */
import { Color, otherColor } from "../components/colors";
import { ColorReadiness, colorReadiness, LiveColor, liveServices, readClusterState, readLiveColor } from "./clusterState";
import { confirmTraffic, update } from "./deploy";
import { runStep } from "./outcome";
import { engineErrorSummary } from "./engineEvents";
import { OperationRun, runOperation, takeReleaseLock } from "./operation";
import { ReleaseSettings, ReleaseTarget, StepName, StepResult } from "./types";
import { DeployLock, readDeployLock, waitForDeployLock } from "./deployLock";
import { bringUpCold, ColdStartError, ColdStartTimings } from "./emergency";
import { holdMigrations } from "./migrationHold";
import { abortRelease, readReleaseRecord, recordPendingConfig, ReleasePlan } from "./releaseRecord";
import { configValues } from "./stackConfig";

export interface RollbackResult {
    ok: boolean;
    from: Color;
    to: Color;
    /** Milliseconds from the start of the patch until both live Services selected `to` (emergency only). */
    patchMs?: number;
    /** Emergency to a cold color: how long its pods took to be ready and its smoke test to pass (release/emergency.ts). */
    coldStart?: ColdStartTimings;
    /** Emergency: milliseconds from the command's start until both live Services' ready endpoints were `to`'s alone (or the wait for it gave up). */
    trafficMs?: number;
    steps: StepResult[];
    error?: string;
    /** The live color read back from the cluster at the end (`physioflow rollback` fills it in). */
    live?: LiveColor;
}

export async function rollback(target: ReleaseTarget, options: { emergency?: boolean; out?: (line: string) => void } = {}): Promise<RollbackResult> {
    const decided = Date.now();
    const out = options.out ?? (() => undefined);
    const emergency = options.emergency ?? false;
    const what = emergency ? "emergency rollback" : "rollback";
    return runOperation<RollbackResult>(
        target,
        {
            purpose: what,
            emergency,
            prepare: emergency ? abortRunningDeploy : undefined,
            steps: (run, settings) => switchBack(run, settings, { emergency, decided }),
            notification: ({ from, to }) => ({
                event: emergency ? "emergency-rollback" : "rollback",
                namespace: target.namespace,
                from,
                to,
                text: `${target.namespace}: ${what}, live traffic switched from ${from} to ${to}`,
            }),
        },
        out,
    );
}

/**
 * An emergency first marks a running deploy aborted. A deploy still running its release step has
 * not switched: its `to` is the color being released (maybe not yet smoke-tested), never the way
 * back; the live color stays and the emergency ends here (its result). A deploy in its switch or
 * finish runs that update to its end (never cut short): a patch now would be undone by its switch,
 * or left on the color its finish scales down; the emergency waits for it to let go, and takes the lock.
 */
async function abortRunningDeploy(run: OperationRun): Promise<RollbackResult | undefined> {
    const { target, out } = run;
    await markAborted(target, out);
    const running = run.lock === undefined ? await runningRelease(target) : undefined;
    if (running?.phase === "switch" || running?.phase === "finish") {
        out(`release: the running deploy of ${running.tag} is in its ${running.phase}, which runs to its end; waiting for it`);
        run.lock = await lockForReconcile(target, out);
        return undefined;
    }
    const releasing = running?.phase === "release" ? running : undefined;
    if (!releasing) return undefined;
    const live = await readLiveColor(target.kubectl, target.namespace);
    if (live.color !== releasing.from) return undefined;
    out(`release: the running deploy of ${releasing.tag} to ${releasing.to} had not switched: aborted; ${releasing.from} stays live`);
    return { ok: true, from: releasing.from, to: releasing.from, steps: [], live };
}

/**
 * The switch to the other color: made ready if it has no ready pods, then switched (an emergency:
 * patched through the API, then the stack reconciled). A step that fails ends it, its error in the result.
 */
async function switchBack(run: OperationRun, settings: ReleaseSettings, how: { emergency: boolean; decided: number }): Promise<RollbackResult> {
    const from = settings.activeColor;
    const result: RollbackResult = { ok: false, from, to: otherColor(from), steps: [] };
    try {
        const { jobRemoved } = await readyOtherColor(run, result, settings.replicas, how.emergency);
        if (how.emergency) await patchThenReconcile(run, result, { jobRemoved, decided: how.decided });
        else await switchThroughStack(run, result);
        result.ok = true;
    } catch (error) {
        result.error = engineErrorSummary(error);
    }
    return result;
}

/**
 * The color to switch to with no ready pods: an emergency brings it up through the API
 * ({@link emergencyColdStart}); otherwise through the stack (its readiness and smoke test), refused
 * if it is still not ready (scaled already but broken: the update changed nothing and waited for nothing).
 */
async function readyOtherColor(run: OperationRun, result: RollbackResult, replicas: number, emergency: boolean): Promise<{ jobRemoved?: Promise<void> }> {
    const { target, out } = run;
    const { from, to } = result;
    const seen = await coldApps(target, to);
    if (seen.cold.length === 0) return {};
    if (emergency) return emergencyColdStart(target, result, { readiness: seen.readiness, replicas, cold: seen.cold }, out);
    out(`${to} has no ready pods (${seen.cold.join(", ")}): bringing it up through the stack first`);
    const bringUp = () => update(target, { inactiveWarm: true, ...holdMigrations }, out);
    await announcedStep(run, result, { step: "release", what: `${to} to full replicas, behind its smoke test (${from} stays live)` }, bringUp);
    const stillCold = (await coldApps(target, to)).cold;
    if (stillCold.length > 0) throw new Error(`refusing to switch to ${to}: it has no ready pods (${stillCold.join(", ")}); ${from} stays live`);
    return {};
}

/**
 * The apps of `color` with no ready pod (a color a rollback may switch to has at least one per
 * app), each as its readiness reason (`physioflow-api-green 0/1 ready`), and the color's readiness as read.
 */
async function coldApps(target: ReleaseTarget, color: Color): Promise<{ readiness: ColorReadiness; cold: string[] }> {
    const readiness = colorReadiness(await readClusterState(target.kubectl, target.namespace), color);
    return { readiness, cold: readiness.apps.filter(app => app.readyReplicas === 0).map(app => app.reason) };
}

/**
 * Says what a stack update step does, does it, and records its typed outcome (release/outcome.ts's
 * `runStep`): done, with its changes and `done` as its line when given, or failed with the live color read back.
 */
async function announcedStep(
    run: OperationRun,
    result: RollbackResult,
    step: { step: StepName; what: string; done?: string },
    action: () => Promise<string[]>,
): Promise<void> {
    run.out(`${step.step}: ${step.what}`);
    await runStep(result.steps, run.target, step.step, async () => ({ changes: await action(), detail: step.done }), result);
}

/** A normal rollback: the stack's activeColor flipped, the old color kept warm, previewed and applied; then traffic confirmed. */
async function switchThroughStack(run: OperationRun, result: RollbackResult): Promise<void> {
    const { target, out } = run;
    const { from, to } = result;
    const started = Date.now();
    const flip = () => update(target, { activeColor: to, inactiveWarm: true, ...holdMigrations }, out);
    await announcedStep(run, result, { step: "switch", what: `live Services to ${to} (${from} stays warm)` }, flip);
    await confirmTraffic(target, to, started, out);
}

/**
 * An emergency's switch: the live Services patched through the API and traffic confirmed, then
 * (with the deploy lock, when it can be had: {@link lockForReconcile}) the stack set to match and
 * reconciled: same selectors, nothing moves; the old color stays warm.
 */
async function patchThenReconcile(run: OperationRun, result: RollbackResult, when: { jobRemoved?: Promise<void>; decided: number }): Promise<void> {
    const { target, out } = run;
    const { from, to } = result;
    // Until the reconcile below, the live Services differ from the stack's outputs: recorded
    // first, so a reconcile cut short is resumed rather than taken for a stale checkout.
    await recordPendingConfig(target.kubectl, target.namespace, configValues({ activeColor: to, inactiveWarm: true }));
    out(`switch: patching the live Services to ${to} through the API`);
    await runStep(
        result.steps,
        target,
        "switch",
        async () => {
            const started = Date.now();
            const selector = JSON.stringify({ spec: { selector: { version: to } } });
            await Promise.all(
                liveServices.map(service => target.kubectl(["patch", "service", service, "-n", target.namespace, "--type", "merge", "-p", selector])),
            );
            result.patchMs = Date.now() - started;
            out(`  live Services select ${to} (${result.patchMs} ms)`);
            // Traffic has moved once the Services' endpoints are the new color's pods: the reconcile waits for it (briefly).
            await confirmTraffic(target, to, started, out);
            result.trafficMs = Date.now() - when.decided;
            await when.jobRemoved;
            return { changes: liveServices.map(s => `${s}: selector.version ${from} -> ${to} (kubectl patch)`), detail: "patched" };
        },
        result,
    );
    run.lock ??= await lockForReconcile(target, out);
    const reconcile = () => update(target, { activeColor: to, inactiveWarm: true, ...holdMigrations }, out);
    await announcedStep(
        run,
        result,
        { step: "rollback", what: `the stack's activeColor to ${to}, reconciled with what was patched`, done: "stack matches the cluster" },
        reconcile,
    );
}

/** The plan of the deploy that holds the lock, with the step it runs, from the release record; undefined when it cannot be read. */
async function runningRelease(target: ReleaseTarget): Promise<(ReleasePlan & { phase: string }) | undefined> {
    try {
        const record = await readReleaseRecord(target.kubectl, target.namespace);
        return record.release;
    } catch {
        return undefined;
    }
}

/**
 * An emergency rollback aborts a deploy in progress (release/releaseRecord.ts `aborted`): the
 * deploy stops before its next step or watch reading, so its switch cannot move traffic back.
 * Not marking must not hold the emergency up: a failure is a warning.
 */
async function markAborted(target: ReleaseTarget, out: (line: string) => void): Promise<void> {
    try {
        await abortRelease(target.kubectl, target.namespace, "emergency rollback");
        out("release: marked aborted (a running deploy stops before its next step)");
    } catch (error) {
        out(`warning: could not mark the release aborted (a running deploy may go on): ${(error as Error).message}`);
    }
}

/**
 * Before the stack's reconcile of an emergency that went ahead without the deploy lock: the deploy
 * it aborted ends the update it may be running and lets go of its lock; the emergency then takes
 * the lock for its reconcile, so no other release command updates the stack meanwhile. When the
 * lock cannot be had (still held, or taken by another command first), it says so and reconciles
 * anyway: the patched Services must not wait on the stack.
 */
async function lockForReconcile(target: ReleaseTarget, out: (line: string) => void): Promise<DeployLock | undefined> {
    const holder = (await readDeployLock(target.kubectl, target.namespace).catch(() => undefined))?.holder;
    if (holder) {
        out(`lock: waiting for the aborted deploy (${holder}) to stop before the stack is reconciled`);
        if (!(await waitForDeployLock(target.kubectl, target.namespace))) {
            out(`warning: ${holder} still holds the deploy lock; reconciling anyway`);
            return undefined;
        }
    }
    try {
        const lock = await takeReleaseLock(target, "emergency rollback (reconcile)", out);
        out("lock: taken for the reconcile");
        return lock;
    } catch (error) {
        out(`warning: the deploy lock could not be taken (${engineErrorSummary(error)}); reconciling anyway`);
        return undefined;
    }
}

/**
 * An emergency to a color with no ready pods: a color that has its pods and none is ready is
 * broken, refused at once; a scaled-down one is scaled, awaited ready and smoke-tested through the
 * API (release/emergency.ts), or scaled back with one line saying why. Its steps and timings go
 * into `result`; resolves with the smoke Job's deletion, under way.
 */
async function emergencyColdStart(
    target: ReleaseTarget,
    result: RollbackResult,
    seen: { readiness: ColorReadiness; replicas: number; cold: string[] },
    out: (line: string) => void,
): Promise<{ jobRemoved: Promise<void> }> {
    const { from, to } = result;
    const replicasBefore = Object.fromEntries(seen.readiness.apps.map(app => [app.deployment, app.desired]));
    if (Object.values(replicasBefore).some(n => n > 0)) {
        throw new Error(`refusing to switch to ${to}: it has no ready pods (${seen.cold.join(", ")}); ${from} stays live`);
    }
    out(`${to} has no ready pods (${seen.cold.join(", ")}): scaling it up and smoke-testing it through the API`);
    try {
        const started = await bringUpCold(target, { color: to, live: from, replicas: seen.replicas, replicasBefore }, out);
        result.steps.push(...started.steps);
        result.coldStart = started.timings;
        return { jobRemoved: started.jobRemoved };
    } catch (error) {
        if (error instanceof ColdStartError) result.steps.push(...error.steps);
        throw error;
    }
}
