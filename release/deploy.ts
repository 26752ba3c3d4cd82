/**
 * A blue-green release as a sequence of stack updates, each printing its changes as it makes them:
 * (1) release the tag to the inactive color, warm, behind its smoke test; (2) switch the live
 * Services; (3) watch the new color, rolling back by itself on a breach while the old color is
 * still warm (and scaling the broken one down); (4) finish: the old color to `inactiveReplicas`.
 * Which steps are left is decided from the stack's observed settings, not remembered, so a deploy
 * that was killed between two steps is resumed by the next one. One deploy at a time per namespace (release/deployLock.ts).
 */
import type * as auto from "@pulumi/pulumi/automation";
import { Color, otherColor } from "../components/colors";
import { colorReadiness, describeLive, Kubectl, readClusterState, readLiveColor, waitForScaledDown, waitForTraffic } from "./clusterState";
import { kubectlGet } from "../devenv/kubectl";
import { DeployLock, DeployLockLostError } from "./deployLock";
import type { List, Pod } from "./kubernetesObjects";
import { holdMigrations, moveMigrations } from "./migrationHold";
import { ReleaseAbort, ReleasePlan, readReleaseRecord, updateReleaseRecord } from "./releaseRecord";
import { changedSteps, engineErrorSummary, formatStep, formatSteps, isListedChange, resourceSteps, summarizeSteps } from "./engineEvents";
import { upStack } from "./stackEngine";
import { OperationRun, runOperation } from "./operation";
import { Notification, tellTeam } from "./notify";
import { recordStep, StepOutcome, WatchDecision } from "./outcome";
import { raiseAlarm } from "./releaseRecord";
import { errorRateBreach, queryErrorRate } from "./errorRate";
import { configValues, ReleaseConfigChange, setStackConfig } from "./stackConfig";
import { readSmokeFailures } from "./smokeFailures";
import { backupAndMigrate, describePendingMigrations, readPendingMigrations, refuseBreakingMigrations } from "./releaseDatabase";
import { clearPendingConfig, recordPendingConfig } from "./releaseRecord";
import {
    DeployAbortedError,
    DeployOptions,
    DeployRefusedError,
    DeployResult,
    DeployStep,
    ErrorRateSettings,
    ReleaseSettings,
    ReleaseTarget,
    StepName,
    WatchOptions,
} from "./types";

/**
 * What is left to do to get `tag` live, from the settings as they are: a fresh release, the rest
 * of one a killed deploy left (released and warm: from the release, which then changes nothing;
 * switched and still warm: the switch again, in case its update was cut short, then the watch
 * and the finish; finished in the settings but not in the stack, `updateCutShort`: the finish
 * again), or a refusal when the tag is already live and finished. `switched`: the settings
 * already have `tag` on the active color.
 */
export function planDeploy(settings: ReleaseSettings, tag: string, updateCutShort = false): { steps: DeployStep[]; resumed: boolean; switched: boolean } {
    const active = settings.activeColor;
    const inactive = otherColor(active);
    if (settings.tags[active] === tag) {
        if (settings.inactiveWarm) return { steps: ["switch", "watch", "finish"], resumed: true, switched: true };
        // The finish's update was cut short (the settings are ahead of the stack by it): the finish again.
        if (updateCutShort) return { steps: ["finish"], resumed: true, switched: true };
        throw new DeployRefusedError(`${tag} is already live on ${active}; nothing to deploy`);
    }
    const resumed = settings.tags[inactive] === tag && settings.inactiveWarm;
    return { steps: ["release", "switch", "watch", "finish"], resumed, switched: false };
}

/** Runs a release of `tag` on `target`. Resolves to what happened; `ok` false on a failed step or a rollback. */
export async function deploy(target: ReleaseTarget, tag: string, options: DeployOptions): Promise<DeployResult> {
    const out = options.out ?? (() => undefined);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) {
        throw new DeployRefusedError(`"${tag}" is not a valid image tag; use letters, digits, '_', '.', '-', e.g. v1.2.3`);
    }
    const lockedAt = new Date();
    const steps = async (run: OperationRun, settings: ReleaseSettings) => {
        const plan = planDeploy(settings, tag, run.resumes === true);
        const started = await startDeploy({ target, lock: run.lock!, settings, tag, options, out }, plan, lockedAt);
        await checkBeforeDeploy(started, plan.steps);
        return runDeploySteps(started, plan.steps);
    };
    return runOperation(target, { purpose: `deploy ${tag}`, steps }, out);
}

/** What a deploy's steps work with, decided once before the first of them. */
interface DeployRun {
    target: ReleaseTarget;
    lock: DeployLock;
    settings: ReleaseSettings;
    tag: string;
    from: Color;
    to: Color;
    /** The watch's options: the stack's error rate filled in, and the check for an abort or a lost lock before each reading. */
    watch: WatchOptions;
    keepWarm: boolean;
    /** What the deploy did so far: each step recorded as it ends. */
    result: DeployResult;
    out: (line: string) => void;
    /** Tells the team; a failed delivery is an indented warning. */
    tell: (notification: Notification) => Promise<void>;
}

/** What one step of a deploy did, and what follows once it is recorded. */
interface StepRun {
    changes: string[];
    outcome: StepOutcome;
    /** After the step is recorded: the switch's traffic check and notice, the rollback a breach calls for. */
    after?: () => Promise<void>;
}

/** A step of a deploy: its line for people (after `<step>: `), and the step itself. */
interface DeployStepDefinition {
    describe(run: DeployRun): string;
    /** `started`: when the step began (the switch's traffic wait counts from it). */
    run(run: DeployRun, started: number): Promise<StepRun>;
}

/** A step that applied a stack update and is done. */
const applied = (changes: string[]): StepRun => ({ changes, outcome: { kind: "done" } });

/** The four steps of a deploy, each one thing; {@link runDeploySteps} runs those {@link planDeploy} left, in order. */
const deploySteps: Record<DeployStep, DeployStepDefinition> = {
    release: {
        describe: ({ tag, from, to }) => `${tag} to ${to}, warm, behind its smoke test (${from} stays live)`,
        async run(run) {
            await migrateOutsideStack(run);
            // The one step that moves the migration target: a hold a rollback left ends here.
            const change: ReleaseConfigChange = { [`${run.to}Tag`]: run.tag, inactiveWarm: true, ...moveMigrations };
            return applied(await update(run.target, change, run.out));
        },
    },
    switch: {
        describe: ({ from, to }) => `live Services to ${to} (${from} stays warm)`,
        async run(run, started) {
            const changes = await update(run.target, { activeColor: run.to }, run.out);
            return { ...applied(changes), after: () => announceSwitch(run, started) };
        },
    },
    watch: {
        describe: ({ to, watch }) => `${to} for ${watch.seconds} s: readiness and restarts${watch.errorRate ? ", error rate" : ""}`,
        async run(run) {
            const { target, to, from, out } = run;
            const decision: WatchDecision = await watchColor(target, to, run.settings.replicas, run.watch, line => out(`  ${line}`));
            if (decision.kind === "healthy") {
                out(`  no breach in ${run.watch.seconds} s`);
                return { changes: [], outcome: { kind: "done", detail: "no breach" } };
            }
            out(`  breach: ${decision.reason}; rolling back to ${from}`);
            const after = () => rollBackAutomatically(target, run.result, decision.reason, run.tell, out);
            return { changes: [], outcome: { kind: "breach", reason: decision.reason }, after };
        },
    },
    finish: {
        describe: ({ from, keepWarm }) => (keepWarm ? `${from} stays warm` : `${from} to its inactive replicas`),
        async run(run) {
            if (run.keepWarm) return { changes: [], outcome: { kind: "done", detail: `kept ${run.from} warm (--keep-warm)` } };
            return applied(await update(run.target, { inactiveWarm: false }, run.out));
        },
    },
};

/** The deploy's colors, result and options from its plan; the plan written into the release record. */
async function startDeploy(
    given: Pick<DeployRun, "target" | "lock" | "settings" | "tag" | "out"> & { options: DeployOptions },
    plan: { steps: DeployStep[]; resumed: boolean; switched: boolean },
    lockedAt: Date,
): Promise<DeployRun> {
    const { target, lock, settings, tag, options, out } = given;
    // After a resumed switch the new color is the active one.
    const from = plan.switched ? otherColor(settings.activeColor) : settings.activeColor;
    const to = otherColor(from);
    await recordPlan(target, { tag, from, to, by: lock.holder.replace(/: .*$/, ""), startedAt: lockedAt.toISOString(), phase: plan.steps[0] });
    const goOn = () => stopIfAborted(target, lock);
    const tell = (notification: Notification) => tellTeam(settings.notifyWebhookUrl, notification, line => out(`  ${line}`));
    if (plan.resumed) out(`resuming a deploy of ${tag} that stopped before its end (${plan.steps.join(", ")} left)`);
    const watch: WatchOptions = { ...options.watch, errorRate: options.watch.errorRate ?? settings.errorRate, goOn };
    const result: DeployResult = { ok: false, tag, from, to, steps: [] };
    return { target, lock, settings, tag, from, to, watch, keepWarm: options.keepWarm ?? false, result, out, tell };
}

/**
 * Before anything changes: a watch that cannot read the error rate would watch nothing, and a
 * pending migration that would break the live color stops the deploy before any backup. Throws
 * {@link DeployRefusedError}; records the database's migrations in the result.
 */
async function checkBeforeDeploy(run: DeployRun, steps: DeployStep[]): Promise<void> {
    const { out, watch } = run;
    if (watch.errorRate && steps.includes("watch")) {
        const e = watch.errorRate;
        try {
            out(`error rate: ${await queryErrorRate(e.prometheusUrl, e.query)}/s now (rolls back above ${e.threshold}/s; query: ${e.query})`);
        } catch (error) {
            throw new DeployRefusedError(`the watch cannot read the error rate: ${(error as Error).message}; nothing changed`);
        }
    }
    const db = run.target.database;
    if (db && steps.includes("release")) {
        const pending = await readPendingMigrations(db);
        describePendingMigrations(pending).forEach(line => out(`migrations: ${line}`));
        try {
            refuseBreakingMigrations(pending);
        } catch (error) {
            throw new DeployRefusedError((error as Error).message);
        }
        run.result.migrations = { from: pending.current, to: pending.current, pending: pending.pending.map(m => m.version) };
    }
}

/**
 * The steps, each: stop if the deploy was aborted or lost its lock → say what it does → do it →
 * record its outcome. Ends at the first step that did not go on: a failure, an abort, a breach
 * (after the automatic rollback); after the last, the live color read back.
 */
async function runDeploySteps(run: DeployRun, steps: DeployStep[]): Promise<DeployResult> {
    const { target, result, out } = run;
    for (const step of steps) {
        const started = Date.now();
        try {
            await stopIfAborted(target, run.lock, step);
        } catch (error) {
            if (error instanceof DeployAbortedError || error instanceof DeployLockLostError) return stopped(target, result, undefined, started, error, out);
            throw error;
        }
        out(`${step}: ${deploySteps[step].describe(run)}`);
        try {
            const done = await deploySteps[step].run(run, started);
            result.steps.push(recordStep(step, done.changes, started, done.outcome));
            await done.after?.();
            if (done.outcome.kind === "breach") return result;
        } catch (error) {
            if (error instanceof DeployAbortedError || error instanceof DeployLockLostError) return stopped(target, result, step, started, error, out);
            return failed(run, step, started, error);
        }
    }
    result.ok = true;
    result.live = await readLiveColor(target.kubectl, target.namespace);
    return result;
}

/**
 * Ends a deploy whose `step` failed: recorded with the error and the live color as the cluster has
 * it now. A release or switch a smoke test stopped says the test's failed checks (its `FAIL` lines).
 */
async function failed(run: DeployRun, step: DeployStep, started: number, error: unknown): Promise<DeployResult> {
    const { target, result } = run;
    const smokeJob = `physioflow-smoke-${run.to}`;
    const summary = engineErrorSummary(error);
    const failures =
        (step === "release" || step === "switch") && summary.includes(smokeJob) ? await readSmokeFailures(target.kubectl, target.namespace, smokeJob) : [];
    const message = failures.length ? `${summary}; ${smokeJob}: ${failures.join("; ")}` : summary;
    // Whatever the step had done when it failed: what the live Services select now.
    result.live = await readLiveColor(target.kubectl, target.namespace);
    const outcome: StepOutcome = { kind: "failed", error: message, live: result.live };
    result.steps.push(recordStep(step, [], started, outcome));
    result.error = `${step} failed: ${message}`;
    return result;
}

/** Where the stack has no database half (`migratesOutsideStack`): the release step backs up and migrates before its update. */
async function migrateOutsideStack(run: DeployRun): Promise<void> {
    const { target, result, from } = run;
    const db = target.database;
    if (!db?.migratesOutsideStack || !result.migrations?.pending.length) return;
    // The stack's DatabaseRelease does this inside the update; this stack has no database half.
    const migrated = await backupAndMigrate(db, { tag: run.tag, live: from, liveTag: run.settings.tags[from], out: line => run.out(`  ${line}`) });
    result.migrations = { ...result.migrations, to: migrated.to, backup: migrated.backup };
    await target.useMigrationVersion?.(migrated.to);
}

/** After the switch's update: traffic confirmed on the new color, and the team told. */
async function announceSwitch(run: DeployRun, started: number): Promise<void> {
    const { target, from, to, tag } = run;
    await confirmTraffic(target, to, started, run.out);
    await run.tell({
        event: "switch",
        namespace: target.namespace,
        from,
        to,
        tag,
        text: `${target.namespace}: live traffic switched from ${from} to ${to} (${tag})`,
    });
}

/**
 * The watch's breach answered while the old color is still warm: the live Services back to it and
 * the broken color to its inactive replicas, in one stack update (activeColor, inactiveWarm false;
 * previewed and applied), then a wait until the broken color's pods have stopped: a warm broken
 * color would go on answering the keep-alive connections opened to it while it was live, whatever
 * the Services select (docs/traffic.md). A switch back that fails is an alarm: the
 * team is told (`automatic-rollback-failed`), the release record keeps it for `status` until a
 * deploy or rollback succeeds, the stack's activeColor is put back to what the cluster serves (so
 * `physioflow rollback` goes to the old color) with the other color warm, and the result says
 * which color is live.
 */
async function rollBackAutomatically(
    target: ReleaseTarget,
    result: DeployResult,
    breach: string,
    tell: (notification: Notification) => Promise<void>,
    out: (line: string) => void,
): Promise<void> {
    const { tag, from, to } = result;
    const started = Date.now();
    const record = (changes: string[], outcome: StepOutcome) => result.steps.push(recordStep("rollback", changes, started, outcome));
    let changes: string[];
    try {
        // The broken color to its inactive replicas in the same update (after `scaleDownDelaySeconds`):
        // warm, its pods would keep serving the keep-alive connections opened to them while it was live.
        changes = await update(target, { activeColor: from, inactiveWarm: false, ...holdMigrations }, out);
    } catch (error) {
        const message = engineErrorSummary(error);
        const live = await readLiveColor(target.kubectl, target.namespace);
        record([], { kind: "failed", error: message, live });
        result.live = live;
        result.rollbackFailed = { breach, error: message };
        result.error = `automatic rollback to ${from} failed: ${message}`;
        const text = `${target.namespace}: ${tag} on ${to}: the automatic rollback to ${from} FAILED, act now: ${message}; ${describeLive(live)}`;
        await tell({ event: "automatic-rollback-failed", namespace: target.namespace, from: to, to: from, tag, reason: breach, live: live.color, text });
        try {
            await raiseAlarm(target.kubectl, target.namespace, { kind: "automatic-rollback-failed", at: new Date().toISOString(), text });
        } catch (alarmError) {
            out(`warning: the alarm could not be written to the release record: ${engineErrorSummary(alarmError)}`);
        }
        try {
            // The update set activeColor and inactiveWarm before it failed: the stack's config says what the
            // cluster serves again, and keeps the other color warm (a plain `pulumi up` must not scale down the
            // color the alarm's rollback goes to).
            await setStackConfig(target.stack, { activeColor: live.color === from ? from : to, inactiveWarm: true });
        } catch (configError) {
            out(`warning: the stack's activeColor could not be put back: ${engineErrorSummary(configError)}`);
        }
        return;
    }
    await confirmTraffic(target, from, started, out);
    await waitForBrokenColorStopped(target, to, started, out);
    const live = await readLiveColor(target.kubectl, target.namespace);
    record(changes, { kind: "done", detail: `live on ${from} again, ${to} scaled down` });
    result.live = live;
    result.rolledBack = { reason: breach };
    await tell({
        event: "automatic-rollback",
        namespace: target.namespace,
        from: to,
        to: from,
        tag,
        reason: breach,
        live: live.color,
        text: `${target.namespace}: ${tag} on ${to} rolled back automatically to ${from}: ${breach}; ${describeLive(live)}`,
    });
}

/**
 * After an automatic rollback: waits until the broken color's pods the rollback scaled away have
 * stopped ({@link waitForScaledDown}), so that the keep-alive connections opened to them while it
 * was live are closed (the clients open new ones, which go to the live color) before the deploy
 * says it is done. Their preStop sleep and graceful shutdown run first. Never throws: traffic has
 * moved either way; a color still stopping after {@link brokenColorStopMs} is a warning.
 */
async function waitForBrokenColorStopped(target: ReleaseTarget, color: Color, since: number, out: (line: string) => void): Promise<void> {
    const left = await waitForScaledDown(target.kubectl, target.namespace, color, brokenColorStopMs);
    if (left.length === 0) out(`  ${color}'s pods stopped (${Date.now() - since} ms): no connection is left on it`);
    else out(`  warning: ${color}'s pods still stopping ${brokenColorStopMs / 1000} s on (${left.join(", ")}); the connections they hold close when they end`);
}

/** How long {@link waitForBrokenColorStopped} waits: the scale-down delay, a preStop sleep and a graceful shutdown, with room. */
export const brokenColorStopMs = 120_000;

/**
 * Writes the deploy's plan into the release record, so an abort can name what it aborted. An
 * `aborted` mark older than `plan.startedAt` (the time before the lock was taken) was meant for an
 * earlier deploy and is cleared; a newer one came after this deploy held the lock, and stays.
 */
async function recordPlan(target: ReleaseTarget, plan: ReleasePlan & { phase: string }): Promise<void> {
    await updateReleaseRecord(target.kubectl, target.namespace, record => {
        const { aborted, ...rest } = record;
        const forUs = aborted !== undefined && Date.parse(aborted.at) >= Date.parse(plan.startedAt);
        return { ...rest, release: plan, ...(forUs ? { aborted } : {}) };
    });
}

/**
 * Throws what must stop the deploy before its next change: {@link DeployLockLostError} when its
 * lock is no longer its own, {@link DeployAbortedError} when the release record says another
 * command aborted it (the deploy cleared any older mark when it started: {@link recordPlan}).
 * Given the step about to begin, records it as the release's phase.
 */
async function stopIfAborted(target: ReleaseTarget, lock: DeployLock, step?: StepName): Promise<void> {
    await lock.check();
    let aborted: ReleaseAbort | undefined;
    if (step === undefined) ({ aborted } = await readReleaseRecord(target.kubectl, target.namespace));
    else {
        await updateReleaseRecord(target.kubectl, target.namespace, record => {
            aborted = record.aborted;
            return aborted || !record.release ? record : { ...record, release: { ...record.release, phase: step } };
        });
    }
    if (aborted) throw new DeployAbortedError(aborted.by, aborted.reason);
}

/** Ends a deploy that was aborted or lost its lock in `step`: says so, with the live color read from the cluster now. */
async function stopped(
    target: ReleaseTarget,
    result: DeployResult,
    step: StepName | undefined,
    started: number,
    error: DeployAbortedError | DeployLockLostError,
    out: (line: string) => void,
): Promise<DeployResult> {
    // An emergency marks the release aborted before it patches the Services: while they disagree
    // (its patch under way), read again, for up to 5 s.
    let read = await readLiveColor(target.kubectl, target.namespace);
    for (const waitUntil = Date.now() + 5000; read.color === "mixed" && Date.now() < waitUntil;) {
        await new Promise(resolve => setTimeout(resolve, 200));
        read = await readLiveColor(target.kubectl, target.namespace);
    }
    result.live = read;
    const live = describeLive(read);
    const what = error instanceof DeployAbortedError ? "aborted" : "stopped: lost the deploy lock";
    if (step) {
        const outcome: StepOutcome = { kind: "aborted", reason: `${what}: ${error.message}` };
        result.steps.push(recordStep(step, [], started, outcome));
    }
    if (error instanceof DeployAbortedError) {
        result.aborted = { by: error.by, reason: error.reason };
        result.error = `${error.message}; ${live}`;
    } else {
        result.lockLost = { reason: error.reason };
        result.error = `stopped: ${error.message}; ${live}`;
    }
    out(result.error);
    return result;
}

/**
 * Sets `config` and applies it: one step of a release, one engine run. Each change is printed as
 * the engine starts it (its diff computed, before it is applied), then what was done; returns the
 * changes (sorted, as {@link formatSteps} lists them), none when nothing changed. No separate
 * preview: the update plans the same steps itself, and a second engine run made every step, and so
 * every rollback, seconds longer. The config is recorded as pending in the release record before
 * the stack file is written and forgotten once applied: an update cut short leaves a file that is
 * ahead of the stack's outputs, and the next command tells that from a stale checkout (release/checkout.ts).
 */
export async function update(target: ReleaseTarget, change: ReleaseConfigChange, out: (line: string) => void): Promise<string[]> {
    const pending = await recordPendingConfig(target.kubectl, target.namespace, configValues(change));
    await setStackConfig(target.stack, change);
    const events: auto.EngineEvent[] = [];
    await upStack(target.stack, {
        onEvent: event => {
            events.push(event);
            resourceSteps([event])
                .filter(isListedChange)
                .forEach(step => out(`  ${formatStep(step)}`));
        },
    });
    const steps = resourceSteps(events);
    const lines = changedSteps(steps).length === 0 ? [] : formatSteps(steps);
    if (lines.length === 0) out("  no changes");
    out(`  ${summarizeSteps(steps, "did")}`);
    await clearPendingConfig(target.kubectl, target.namespace, pending);
    return lines;
}

/**
 * After a switch: waits (up to `trafficWaitMs`) until the live Services' ready endpoints are `to`'s
 * alone, and says so, or warns that they are not. Traffic has moved then, not only the selectors
 * (the stack does not wait for endpoints: components/blueGreenApp.ts). Never throws.
 */
export async function confirmTraffic(target: ReleaseTarget, to: Color, since: number, out: (line: string) => void): Promise<boolean> {
    const moved = await waitForTraffic(target.kubectl, target.namespace, to, trafficWaitMs);
    if (moved) out(`  live Services serve ${to} only (${Date.now() - since} ms)`);
    else out(`  warning: the live Services' endpoints are not ${to}'s alone ${trafficWaitMs / 1000} s after the switch; check: physioflow status`);
    return moved;
}

/** How long {@link confirmTraffic} waits for the endpoints to follow a switch. */
export const trafficWaitMs = 10_000;

/** Failed readings of the cluster in a row that are a breach: the watch cannot see the new color, so it rolls back while the old one is warm. */
export const unreadableReadingsBreach = 3;

/**
 * Watches `color` for `options.seconds`: a breach is the color not ready with `replicas` pods per
 * app (release/clusterState.ts's `colorReadiness`: a Deployment missing, short of ready pods, or
 * not rolled out) on two readings in a row, more container restarts than allowed since the
 * watch began, the cluster unreadable on {@link unreadableReadingsBreach} readings in a row, or
 * (with `options.errorRate`) an error rate above its threshold on two readings in a row, or
 * unreadable on three. Healthy only after a reading that succeeded at or past the end.
 */
export async function watchColor(
    target: ReleaseTarget,
    color: Color,
    replicas: number,
    options: WatchOptions,
    out: (line: string) => void,
): Promise<WatchDecision> {
    const intervalMs = options.intervalMs ?? 1000;
    const maxRestarts = options.maxRestarts ?? 0;
    await options.goOn?.();
    const errorRate = errorRateWatch(options.errorRate, out);
    const timedTarget: ReleaseTarget = { ...target, kubectl: withDeadline(target.kubectl, options.requestTimeoutSeconds ?? 10) };
    const deadline = Date.now() + options.seconds * 1000;
    let baseline: number | undefined;
    let unreadyBefore: string | undefined;
    let failedReadings = 0;
    for (;;) {
        let reading: { unready?: string; restarts: number };
        try {
            reading = await readColor(timedTarget, color, replicas);
            failedReadings = 0;
        } catch (error) {
            failedReadings++;
            const message = engineErrorSummary(error);
            out(`warning: the cluster could not be read (${failedReadings} in a row): ${message}`);
            if (failedReadings >= unreadableReadingsBreach) {
                return { kind: "breach", reason: `the cluster could not be read ${failedReadings} times in a row: ${message}` };
            }
            await new Promise(resolve => setTimeout(resolve, intervalMs));
            continue;
        }
        baseline ??= reading.restarts;
        if (reading.unready && unreadyBefore) return { kind: "breach", reason: reading.unready };
        unreadyBefore = reading.unready;
        const restarted = reading.restarts - baseline;
        if (restarted > maxRestarts) {
            return { kind: "breach", reason: `${restarted} container restart(s) of ${color}'s pods since the switch (allowed: ${maxRestarts})` };
        }
        if (options.errorRate) {
            const breach = await errorRate.read();
            if (breach) return { kind: "breach", reason: breach };
        }
        if (Date.now() >= deadline) return { kind: "healthy" };
        await new Promise(resolve => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
        await options.goOn?.();
    }
}

/**
 * kubectl with `--request-timeout` and a deadline on the whole call: kubectl makes several requests
 * (discovery first), each of which may wait the full timeout, so the call gives up 2 s after one
 * timeout's worth (the process ends by itself after its requests time out).
 */
function withDeadline(kubectl: Kubectl, seconds: number): Kubectl {
    return (args, input) => {
        const timed = [...args, `--request-timeout=${seconds}s`];
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`kubectl ${timed.join(" ")}: no answer in ${seconds + 2} s`)), (seconds + 2) * 1000);
        });
        return Promise.race([kubectl(timed, input), deadline]).finally(() => clearTimeout(timer));
    };
}

/** One reading of `color`: why it is not ready with `replicas` pods per app (release/clusterState.ts's {@link colorReadiness}), and its pods' container restarts. */
async function readColor(target: ReleaseTarget, color: Color, replicas: number): Promise<{ unready?: string; restarts: number }> {
    const state = await readClusterState(target.kubectl, target.namespace);
    const pods = (await kubectlGet<List<Pod>>(target.kubectl, ["pods", "-n", target.namespace, "-l", `version=${color}`])).items;
    const restarts = pods.reduce((sum, pod) => sum + (pod.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0), 0);
    return { unready: colorReadiness(state, color, replicas).reason, restarts };
}

/**
 * Reads the error rate once per call: a breach is a value above the threshold twice in a row (one
 * spike is not a breach; the query's rate() already smooths), or no reading three times in a row.
 */
function errorRateWatch(settings: ErrorRateSettings | undefined, out: (line: string) => void) {
    let above = 0;
    let failed = 0;
    return {
        async read(): Promise<string | undefined> {
            if (!settings) return undefined;
            let value: number;
            try {
                value = await queryErrorRate(settings.prometheusUrl, settings.query);
                failed = 0;
            } catch (error) {
                failed++;
                out(`warning: ${(error as Error).message}`);
                return failed >= 3 ? `the error rate could not be read ${failed} times in a row: ${(error as Error).message}` : undefined;
            }
            const breach = errorRateBreach(value, settings.threshold, settings.query);
            above = breach ? above + 1 : 0;
            return above >= 2 ? breach : undefined;
        },
    };
}
