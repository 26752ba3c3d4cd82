/**
 * Switching back to the other color. Normal: the stack's `activeColor` flipped with the old color
 * kept warm, previewed, applied. Emergency (`--emergency`): the live Services are patched through
 * the API first, as fast as the runbook's `kubectl patch`, and the stack is then set to match and
 * reconciled, so the next preview shows no change and the next update no conflict. Either way a
 * color with no ready pods is first brought up through the stack (its readiness and smoke test),
 * never switched to cold.
 */
import { Color, otherColor } from "../components/colors";
import { LiveColor, liveServices, readClusterState } from "./clusterState";
import { elapsed, engineErrorSummary, readReleaseSettings, ReleaseTarget, resolveAlarms, StepResult, takeReleaseLock, update } from "./deploy";
import { DeployLock, DeployLockedError, readDeployLock, waitForDeployLock } from "./deployLock";
import { holdMigrations } from "./migrationHold";
import { abortRelease } from "./releaseRecord";
import { tellTeam } from "./notify";

export interface RollbackResult {
    ok: boolean;
    from: Color;
    to: Color;
    /** Milliseconds from the start of the patch until both live Services selected `to` (emergency only). */
    patchMs?: number;
    steps: StepResult[];
    error?: string;
    /** The live color read back from the cluster at the end (`physioflow rollback` fills it in). */
    live?: LiveColor;
}

export async function rollback(target: ReleaseTarget, options: { emergency?: boolean; out?: (line: string) => void } = {}): Promise<RollbackResult> {
    const out = options.out ?? (() => undefined);
    let lock: DeployLock | undefined;
    try {
        lock = await takeReleaseLock(target, options.emergency ? "emergency rollback" : "rollback", out);
    } catch (error) {
        // An emergency does not wait for a deploy (that deploy may be the emergency).
        if (!(options.emergency && error instanceof DeployLockedError)) throw error;
        out(`lock: ${error.message.replace(/; wait for it to finish$/, "")}; going ahead (emergency)`);
    }
    if (options.emergency) await markAborted(target, out);
    // Outside the try below: a stack file that cannot be read must still give the lock back.
    const settings = await readReleaseSettings(target.stack).catch(async error => {
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
        const notReady = async () => {
            const state = await readClusterState(target.kubectl, target.namespace);
            return liveServices
                .filter(app => (state.deployments[`${app}-${to}`]?.readyReplicas ?? 0) === 0)
                .map(app => `${app}-${to} ${state.deployments[`${app}-${to}`]?.readyReplicas ?? 0}/${state.deployments[`${app}-${to}`]?.replicas ?? 0} ready`);
        };
        const cold = await notReady();
        if (cold.length > 0) {
            out(`${to} has no ready pods (${cold.join(", ")}): bringing it up through the stack first`);
            await step(
                "release",
                `${to} to full replicas, behind its smoke test (${from} stays live)`,
                () => update(target, { inactiveWarm: "true", ...holdMigrations }, out),
                "done",
            );
            // Scaled already but broken (pods that do not get ready): the update changed nothing and waited for nothing.
            const stillCold = await notReady();
            if (stillCold.length > 0) {
                throw new Error(`refusing to switch to ${to}: it has no ready pods (${stillCold.join(", ")}); ${from} stays live`);
            }
        }
        if (options.emergency) {
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
            result.steps.push({
                step: "switch",
                changes: liveServices.map(s => `${s}: selector.version ${from} -> ${to} (kubectl patch)`),
                seconds: elapsed(started),
                result: "patched",
            });
            if (!lock) await waitForAbortedDeploy(target, out);
            // The stack catches up: same selectors, nothing moves; the old color stays warm.
            await step(
                "rollback",
                `the stack's activeColor to ${to}, reconciled with what was patched`,
                () => update(target, { activeColor: to, inactiveWarm: "true", ...holdMigrations }, out),
                "stack matches the cluster",
            );
        } else {
            await step(
                "switch",
                `live Services to ${to} (${from} stays warm)`,
                () => update(target, { activeColor: to, inactiveWarm: "true", ...holdMigrations }, out),
                "done",
            );
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

/** Before the stack's reconcile: the deploy this emergency aborted ends the update it may be running, then lets go of its lock. */
async function waitForAbortedDeploy(target: ReleaseTarget, out: (line: string) => void): Promise<void> {
    const holder = (await readDeployLock(target.kubectl, target.namespace).catch(() => undefined))?.holder;
    if (!holder) return;
    out(`lock: waiting for the aborted deploy (${holder}) to stop before the stack is reconciled`);
    if (!(await waitForDeployLock(target.kubectl, target.namespace))) out(`warning: ${holder} still holds the deploy lock; reconciling anyway`);
}
