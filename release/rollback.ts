/**
 * Switching back to the other color. Normal: the stack's `activeColor` flipped with the old color
 * kept warm, previewed, applied. Emergency (`--emergency`): the live Services are patched through
 * the API first, as fast as the runbook's `kubectl patch`, and the stack is then set to match and
 * reconciled, so the next preview shows no change and the next update no conflict. Either way a
 * color with no ready pods is first brought up through the stack (its readiness and smoke test),
 * never switched to cold.
 */
import { Color, otherColor } from "../components/colors";
import { liveServices, readClusterState } from "./clusterState";
import { elapsed, engineErrorSummary, readReleaseSettings, ReleaseTarget, StepResult, takeReleaseLock, update } from "./deploy";
import { refuseStaleCheckout } from "./checkout";
import { DeployLock, DeployLockedError } from "./deployLock";
import { recordPendingConfig } from "./releaseRecord";
import { tellTeam } from "./notify";

export { liveServices } from "./clusterState";

export interface RollbackResult {
    ok: boolean;
    from: Color;
    to: Color;
    /** Milliseconds from the start of the patch until both live Services selected `to` (emergency only). */
    patchMs?: number;
    steps: StepResult[];
    error?: string;
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
                () => update(target, { inactiveWarm: "true" }, out),
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
            await recordPendingConfig(target.kubectl, target.namespace, { activeColor: to, inactiveWarm: "true" });
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
            // The stack catches up: same selectors, nothing moves; the old color stays warm.
            await step(
                "rollback",
                `the stack's activeColor to ${to}, reconciled with what was patched`,
                () => update(target, { activeColor: to, inactiveWarm: "true" }, out),
                "stack matches the cluster",
            );
        } else {
            await step("switch", `live Services to ${to} (${from} stays warm)`, () => update(target, { activeColor: to, inactiveWarm: "true" }, out), "done");
        }
        result.ok = true;
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
