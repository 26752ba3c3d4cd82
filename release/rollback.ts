/**
 * Switching back to the other color. Normal: the stack's `activeColor` flipped with the old color
 * kept warm, previewed, applied; a color with no ready pods is first brought up through the stack
 * (its readiness and smoke test). Emergency (`--emergency`): everything through the API first, as
 * fast as the runbook's `kubectl scale` and `kubectl patch` (a cold color scaled, awaited ready and
 * smoke-tested by release/emergency.ts), then the stack is set to match and reconciled, so the
 * next preview shows no change and the next update no conflict. Never a switch to a cold color.
 */
import { Color, otherColor } from "../components/colors";
import { ClusterState, LiveColor, liveServices, readClusterState, readLiveColor } from "./clusterState";
import { confirmTraffic, elapsed, engineErrorSummary, readReleaseSettings, resolveAlarms, takeReleaseLock, update } from "./deploy";
import { ReleaseTarget, StepResult } from "./types";
import { refuseStaleCheckout } from "./checkout";
import { DeployLock, DeployLockedError, readDeployLock, waitForDeployLock } from "./deployLock";
import { bringUpCold, ColdStartError, ColdStartTimings } from "./emergency";
import { holdMigrations } from "./migrationHold";
import { abortRelease, readReleaseRecord, recordPendingConfig, ReleasePlan } from "./releaseRecord";
import { configValues } from "./stackConfig";
import { tellTeam } from "./notify";

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
    let lock: DeployLock | undefined;
    try {
        lock = await takeReleaseLock(target, options.emergency ? "emergency rollback" : "rollback", out);
    } catch (error) {
        // An emergency does not wait for a deploy (that deploy may be the emergency).
        if (!(options.emergency && error instanceof DeployLockedError)) throw error;
        out(`lock: ${error.message.replace(/; wait for it to finish$/, "")}; going ahead (emergency)`);
    }
    if (options.emergency) {
        await markAborted(target, out);
        // A deploy still running its release step has not switched: its `to` is the color being
        // released (maybe not yet smoke-tested), never the way back. The live color stays.
        const releasing = lock === undefined ? await releaseStepRunning(target) : undefined;
        if (releasing) {
            const live = await readLiveColor(target.kubectl, target.namespace);
            if (live.color === releasing.from) {
                out(`release: the running deploy of ${releasing.tag} to ${releasing.to} had not switched: aborted; ${releasing.from} stays live`);
                return { ok: true, from: releasing.from, to: releasing.from, steps: [], live };
            }
        }
    }
    // Before any change: an older checkout's file would switch to the color already live.
    const settings = await readReleaseSettings(target.stack)
        .then(async read => {
            await refuseStaleCheckout(target, read);
            return read;
        })
        .catch(async error => {
            await lock?.release();
            throw error;
        });
    const from = settings.activeColor;
    const to = otherColor(from);
    const result: RollbackResult = { ok: false, from, to, steps: [] };
    const step = async (name: StepResult["step"], what: string, action: () => Promise<string[]>, done: string) => {
        const started = Date.now();
        out(`${name}: ${what}`);
        const changes = await action();
        result.steps.push({ step: name, changes, seconds: elapsed(started), result: done });
    };
    try {
        let state: ClusterState | undefined;
        const notReady = async () => {
            state = await readClusterState(target.kubectl, target.namespace);
            const deployments = state.deployments;
            return liveServices
                .filter(app => (deployments[`${app}-${to}`]?.readyReplicas ?? 0) === 0)
                .map(app => `${app}-${to} ${deployments[`${app}-${to}`]?.readyReplicas ?? 0}/${deployments[`${app}-${to}`]?.replicas ?? 0} ready`);
        };
        const cold = await notReady();
        let jobRemoved: Promise<void> | undefined;
        if (cold.length > 0 && options.emergency) {
            ({ jobRemoved } = await emergencyColdStart(target, result, { state: state!, replicas: settings.replicas, cold }, out));
        } else if (cold.length > 0) {
            out(`${to} has no ready pods (${cold.join(", ")}): bringing it up through the stack first`);
            await step(
                "release",
                `${to} to full replicas, behind its smoke test (${from} stays live)`,
                () => update(target, { inactiveWarm: true, ...holdMigrations }, out),
                "done",
            );
            // Scaled already but broken (pods that do not get ready): the update changed nothing and waited for nothing.
            const stillCold = await notReady();
            if (stillCold.length > 0) {
                throw new Error(`refusing to switch to ${to}: it has no ready pods (${stillCold.join(", ")}); ${from} stays live`);
            }
        }
        if (options.emergency) {
            // Until the reconcile below, the live Services differ from the stack's outputs: recorded
            // first, so a reconcile cut short is resumed rather than taken for a stale checkout.
            await recordPendingConfig(target.kubectl, target.namespace, configValues({ activeColor: to, inactiveWarm: true }));
            const started = Date.now();
            out(`switch: patching the live Services to ${to} through the API`);
            await Promise.all(
                liveServices.map(service =>
                    target.kubectl([
                        "patch",
                        "service",
                        service,
                        "-n",
                        target.namespace,
                        "--type",
                        "merge",
                        "-p",
                        JSON.stringify({ spec: { selector: { version: to } } }),
                    ]),
                ),
            );
            result.patchMs = Date.now() - started;
            out(`  live Services select ${to} (${result.patchMs} ms)`);
            // Traffic has moved once the Services' endpoints are the new color's pods: the reconcile waits for it (briefly).
            await confirmTraffic(target, to, started, out);
            result.trafficMs = Date.now() - decided;
            await jobRemoved;
            result.steps.push({
                step: "switch",
                changes: liveServices.map(s => `${s}: selector.version ${from} -> ${to} (kubectl patch)`),
                seconds: elapsed(started),
                result: "patched",
            });
            if (!lock) lock = await lockForReconcile(target, out);
            // The stack catches up: same selectors, nothing moves; the old color stays warm.
            await step(
                "rollback",
                `the stack's activeColor to ${to}, reconciled with what was patched`,
                () => update(target, { activeColor: to, inactiveWarm: true, ...holdMigrations }, out),
                "stack matches the cluster",
            );
        } else {
            const started = Date.now();
            await step(
                "switch",
                `live Services to ${to} (${from} stays warm)`,
                () => update(target, { activeColor: to, inactiveWarm: true, ...holdMigrations }, out),
                "done",
            );
            await confirmTraffic(target, to, started, out);
        }
        result.ok = true;
        await resolveAlarms(target, out);
        await tellTeam(
            settings.notifyWebhookUrl,
            {
                event: options.emergency ? "emergency-rollback" : "rollback",
                namespace: target.namespace,
                from,
                to,
                text: `${target.namespace}: ${options.emergency ? "emergency rollback" : "rollback"}, live traffic switched from ${from} to ${to}`,
            },
            out,
        );
        return result;
    } catch (error) {
        result.error = engineErrorSummary(error);
        return result;
    } finally {
        await lock?.release();
    }
}

/** The plan of a deploy whose release step is running (the lock is held by it), from the release record; undefined otherwise. */
async function releaseStepRunning(target: ReleaseTarget): Promise<ReleasePlan | undefined> {
    try {
        const record = await readReleaseRecord(target.kubectl, target.namespace);
        return record.release?.phase === "release" ? record.release : undefined;
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
    seen: { state: ClusterState; replicas: number; cold: string[] },
    out: (line: string) => void,
): Promise<{ jobRemoved: Promise<void> }> {
    const { from, to } = result;
    const replicasBefore = Object.fromEntries(liveServices.map(app => [`${app}-${to}`, seen.state.deployments[`${app}-${to}`]?.replicas ?? 0]));
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
