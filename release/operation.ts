/**
 * The one skeleton of a release command (deploy, rollback, rollback --emergency, rollback
 * --restore): take the deploy lock → read the truth (the stack's settings) → check the checkout
 * against it (release/checkout.ts) → the command's steps → after steps that succeeded, resolve
 * the namespace's alarms and tell the team → release the lock. An emergency goes ahead without
 * the lock when another command holds it (it may take it later: release/rollback.ts).
 */
import type * as auto from "@pulumi/pulumi/automation";
import { ConfigError, StackConfig } from "../components/config";
import { refuseStaleCheckout } from "./checkout";
import { acquireDeployLock, DeployLock, DeployLockedError } from "./deployLock";
import { engineErrorSummary } from "./engineEvents";
import { Notification, tellTeam } from "./notify";
import { clearAlarms } from "./releaseRecord";
import { readStackConfig } from "./stackConfig";
import { repairFileBackend } from "./stateBackend";
import { DeployRefusedError, ReleaseSettings, ReleaseTarget } from "./types";

/** A release command under way: its target, where its lines go, and the lock it holds. */
export interface OperationRun {
    target: ReleaseTarget;
    out: (line: string) => void;
    /**
     * The deploy lock, released when the command ends. Undefined for an emergency that went ahead
     * while another command held it; such an emergency may take it later (set it here).
     */
    lock?: DeployLock;
    /** The checkout's stack file is ahead of the stack by a change in progress (refuseStaleCheckout): an update was cut short. */
    resumes?: boolean;
}

/** What a release command puts into the skeleton. */
export interface Operation<R extends { ok: boolean }> {
    /** What the lock says its holder does, e.g. `deploy v1.2.0`. */
    purpose: string;
    /** Goes ahead without the lock when another command holds it, saying so (`rollback --emergency`). */
    emergency?: boolean;
    /** With the lock (or without it, in an emergency), before the truth is read; a result ends the command there. */
    prepare?(run: OperationRun): Promise<R | undefined>;
    /** The command's steps, from the settings the checkout agreed with. */
    steps(run: OperationRun, settings: ReleaseSettings): Promise<R>;
    /** What the team is told after steps that succeeded; without it, nothing (a deploy tells it during its steps). */
    notification?(result: R, settings: ReleaseSettings): Notification;
}

/** Runs `operation` on `target` in the skeleton above. What a step throws, and every refusal, goes to the caller, after the lock is released. */
export async function runOperation<R extends { ok: boolean }>(target: ReleaseTarget, operation: Operation<R>, out: (line: string) => void): Promise<R> {
    const run: OperationRun = { target, out, lock: await lockFor(target, operation, out) };
    try {
        const ended = await operation.prepare?.(run);
        if (ended) return ended;
        const settings = await readReleaseSettings(target.stack);
        // Before any change: an older checkout's file would plan over, or switch to, the color already live.
        run.resumes = (await refuseStaleCheckout(target, settings)).resumes;
        const result = await operation.steps(run, settings);
        if (!result.ok) return result;
        await resolveAlarms(target, out);
        const notification = operation.notification?.(result, settings);
        if (notification) await tellTeam(settings.notifyWebhookUrl, notification, out);
        return result;
    } finally {
        await run.lock?.release();
    }
}

/** The lock for `operation`; an emergency does not wait for a deploy (that deploy may be the emergency): undefined, said. */
async function lockFor(
    target: ReleaseTarget,
    operation: { purpose: string; emergency?: boolean },
    out: (line: string) => void,
): Promise<DeployLock | undefined> {
    try {
        return await takeReleaseLock(target, operation.purpose, out);
    } catch (error) {
        if (!(operation.emergency && error instanceof DeployLockedError)) throw error;
        out(`lock: ${error.message.replace(/; wait for it to finish$/, "")}; going ahead (emergency)`);
        return undefined;
    }
}

/** The release settings from the stack's config. */
export async function readReleaseSettings(stack: auto.Stack): Promise<ReleaseSettings> {
    let config: StackConfig;
    try {
        config = await readStackConfig(stack);
    } catch (error) {
        // A config the program would refuse: refused here too, before anything changes, in the program's words.
        if (error instanceof ConfigError) throw new DeployRefusedError(error.message);
        throw error;
    }
    return {
        activeColor: config.activeColor,
        tags: config.tags,
        inactiveWarm: config.inactiveWarm,
        replicas: config.replicas,
        migrationTarget: config.migrationTarget,
        notifyWebhookUrl: config.notifyWebhookUrl,
        errorRate: config.errorRate,
    };
}

/**
 * A deploy or rollback that succeeded resolves the namespace's alarms (a failed automatic
 * rollback's): cleared from the release record, and said. Never fails the command.
 */
export async function resolveAlarms(target: ReleaseTarget, out: (line: string) => void): Promise<void> {
    try {
        const cleared = await clearAlarms(target.kubectl, target.namespace);
        cleared.forEach(alarm => out(`alarm resolved: ${alarm.kind} at ${alarm.at}`));
    } catch (error) {
        out(`warning: the release record's alarms could not be cleared: ${engineErrorSummary(error)}`);
    }
}

/**
 * The deploy lock for one release command (deploy, rollback). When it was taken over from a
 * command that was killed, the stack's own update lock, if that command died inside an update,
 * is stale too: `pulumi cancel` removes it (nothing else runs stack updates while the deploy lock
 * is held; with no update in progress it changes nothing). Says what it did.
 */
export async function takeReleaseLock(target: ReleaseTarget, purpose: string, out: (line: string) => void): Promise<DeployLock> {
    const lock = await acquireDeployLock(target.kubectl, target.namespace, { purpose });
    if (lock.tookOverFrom) {
        out(`lock: took over the abandoned deploy lock of ${lock.tookOverFrom}`);
        try {
            // A pulumi killed inside an update may have torn a metadata file of the state, too.
            await repairFileBackend(target.stack.workspace, out);
            await target.stack.cancel();
        } catch (error) {
            await lock.release();
            throw error;
        }
        out("stack: cleared any update lock the abandoned command left (pulumi cancel)");
    }
    return lock;
}
