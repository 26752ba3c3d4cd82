/**
 * `rollback --restore FILE`: the runbook's scenario 2 (application and database), as one command.
 * Verify the archive; pick the color whose tag the archive was taken under; take a safety backup
 * of what is about to be replaced; take the API off the database (its Deployments scaled to 0
 * through the API, as the runbook's `kubectl scale`); restore in one transaction (the runner
 * checks the restored migration version against the archive's); give the API its pods back and
 * wait for them to be Ready; then
 * one stack update records the restored version and switches to the chosen color behind its
 * smoke test. A failed restore changes nothing and the API gets its pods back all the same: every
 * path out of the API's time off the database (success, failure, a timeout, SIGINT or SIGTERM)
 * scales it back and says so. No archive is pruned, moved or rewritten by a restore; the restored
 * one is marked kept (`<archive>.keep`) so no later backup's retention deletes it.
 */
import * as path from "path";
import { Color, colors, otherColor } from "../components/colors";
import { createBackup, restoreBackup, verifyBackup } from "../database";
import type { BackupMetadata } from "../database";
import { kubectlGet } from "../devenv/kubectl";
import { desiredReplicas, Kubectl, readClusterState } from "./clusterState";
import type { Deployment, List, Pod } from "./kubernetesObjects";
import { update } from "./deploy";
import { engineErrorSummary } from "./engineEvents";
import { OperationRun, runOperation } from "./operation";
import { ReleaseDatabase, ReleaseSettings, ReleaseTarget, StepName } from "./types";
import { runStep } from "./outcome";
import { moveMigrations } from "./migrationHold";
import type { RollbackResult } from "./rollback";

/** The API Deployments: the app that holds database connections. */
const apiDeployments = colors.map(color => `physioflow-api-${color}`);

/** How long the API's pods get to stop after the scale to 0, by default. */
export const DEFAULT_SCALE_DOWN_TIMEOUT_MS = 120_000;

export interface RestoreRollbackResult extends RollbackResult {
    /** The archive's migration version, now the database's. */
    migrationVersion?: string;
    /** The backup of the database as it was before the restore. */
    safetyBackup?: string;
}

export interface RestoreRollbackOptions {
    /** Each line a person should see. */
    out?: (line: string) => void;
    /** The color to bring back (`--color`), instead of the one the archive's metadata names. */
    color?: Color;
    /** How long to wait for the API's pods to stop after the scale to 0. Default {@link DEFAULT_SCALE_DOWN_TIMEOUT_MS}. */
    scaleDownTimeoutMs?: number;
    /** Where SIGINT and SIGTERM are heard while the API is off the database. Default: this process. */
    signals?: NodeJS.EventEmitter;
    /** Added to the verify step's error when the archive does not verify (`--restore latest`: the next newest archive). */
    ifArchiveDamaged?: string;
}

/**
 * The color to bring back: the one running the tag that was live when the archive was taken
 * (`colors[live]`, or `image_tags.api` in archives from before `colors`). When both colors run it,
 * the color that was live then (else the active one). Throws, naming `--color`, when the archive
 * records no tag or neither color runs it. Pure.
 */
export function colorForArchive(
    tags: Record<Color, string>,
    active: Color,
    metadata: Pick<BackupMetadata, "image_tags" | "colors" | "live">,
    archive: string,
): Color {
    const liveTag = metadata.colors && metadata.live ? metadata.colors[metadata.live] : metadata.image_tags.api;
    const choose = "choose the color to bring back with --color blue|green";
    if (liveTag === undefined) throw new Error(`${path.basename(archive)} records no image tags, so the color that runs its schema is unknown; ${choose}`);
    const running = colors.filter(color => tags[color] === liveTag);
    if (running.length === 0) {
        throw new Error(
            `${path.basename(archive)} was taken while ${liveTag} was live, but blue runs ${tags.blue} and green ${tags.green}; ` +
                `${choose}, or release ${liveTag} to the inactive color first (physioflow deploy)`,
        );
    }
    if (running.length === 1) return running[0];
    return metadata.live ?? active;
}

export async function restoreRollback(target: ReleaseTarget, archivePath: string, options: RestoreRollbackOptions = {}): Promise<RestoreRollbackResult> {
    const out = options.out ?? (() => undefined);
    const db = target.database;
    if (db === undefined) throw new Error("rollback --restore needs the stack's database (dbHost, dbName, dbUser and the dbPassword secret in its config)");
    const archive = path.basename(archivePath);
    return runOperation<RestoreRollbackResult>(
        target,
        {
            purpose: `rollback --restore ${archive}`,
            steps: (run, settings) => restoreSteps({ ...run, db, settings, archivePath, options }),
            notification: ({ from, to, migrationVersion }) => ({
                event: "restore-rollback",
                namespace: target.namespace,
                from,
                to,
                text: `${target.namespace}: database restored from ${archive} (migration ${migrationVersion}); ${to} is live`,
            }),
        },
        out,
    );
}

/** What a restore's steps work with. */
interface RestoreRun extends OperationRun {
    db: ReleaseDatabase;
    settings: ReleaseSettings;
    archivePath: string;
    options: RestoreRollbackOptions;
}

/**
 * verify → safety backup → restore (the API off the database) → switch, each recorded with its
 * typed outcome (release/outcome.ts's `runStep`); a step that fails ends it, recorded `failed`
 * with the live color read back, its error in the result.
 */
async function restoreSteps(run: RestoreRun): Promise<RestoreRollbackResult> {
    const from = run.settings.activeColor;
    const result: RestoreRollbackResult = { ok: false, from, to: otherColor(from), steps: [] };
    const step = (name: StepName, action: () => Promise<StepDone>) => runStep(result.steps, run.target, name, action, result);
    try {
        let metadata: BackupMetadata | undefined;
        await step("verify", async () => {
            metadata = await verifyArchive(run, result);
            return { detail: "archive verified" };
        });
        const version = metadata!.migration_version;
        await step("backup", () => safetyBackup(run, result));
        await step("restore", () => restoreArchive(run, result, version));
        await step("switch", () => switchToRestored(run, result, version));
        result.ok = true;
    } catch (error) {
        result.error = engineErrorSummary(error);
    }
    return result;
}

/** What a step that is done records: its changes and its line in the summary. */
type StepDone = { changes?: string[]; detail: string };

/** Lines of the database's own progress, indented under the step. */
const progressOf = (run: RestoreRun) => ({ line: (text: string) => run.out(`  ${text}`) });

/** The archive verified, of this environment; the color to bring back chosen (`result.to`). */
async function verifyArchive(run: RestoreRun, result: RestoreRollbackResult): Promise<BackupMetadata> {
    const { archivePath, db, settings, options, out } = run;
    out(`verify: ${archivePath}`);
    let metadata: BackupMetadata;
    try {
        metadata = (await verifyBackup(archivePath, progressOf(run))).metadata;
    } catch (error) {
        if (options.ifArchiveDamaged !== undefined && error instanceof Error) error.message = `${error.message}; ${options.ifArchiveDamaged}`;
        throw error;
    }
    if (metadata.environment !== db.environment) {
        throw new Error(`${archivePath} is a backup of "${metadata.environment}", not "${db.environment}"; nothing changed`);
    }
    const to = options.color ?? colorForArchive(settings.tags, result.from, metadata, archivePath);
    result.to = to;
    out(`  ${metadata.label} of ${metadata.created_at}, migration ${metadata.migration_version}, ${describeArchiveColors(metadata)}`);
    out(`  ${to} runs ${settings.tags[to]}${options.color === undefined ? "" : " (--color)"}`);
    return metadata;
}

/** A verified backup of the database as it is now, before it is replaced. */
async function safetyBackup(run: RestoreRun, result: RestoreRollbackResult): Promise<StepDone> {
    const { db, settings, out } = run;
    out("backup: the database as it is now, before it is replaced");
    const safety = await createBackup({
        connection: db.connection,
        outDir: db.backupDir,
        environment: db.environment,
        label: "pre-restore",
        colors: { colors: { ...settings.tags }, live: result.from },
        // A restore prunes nothing: the archive being restored may be the oldest in this folder.
        prune: false,
        progress: progressOf(run),
    });
    result.safetyBackup = safety.archivePath;
    out(`  ${safety.archivePath} (verified)`);
    return { detail: `safety backup ${path.basename(safety.archivePath)}` };
}

/** The restore in one transaction, with the API off the database ({@link withApiOffDatabase}). */
async function restoreArchive(run: RestoreRun, result: RestoreRollbackResult, version: string): Promise<StepDone> {
    const { target, db, archivePath, options, out } = run;
    await withApiOffDatabase(
        target,
        { timeoutMs: options.scaleDownTimeoutMs ?? DEFAULT_SCALE_DOWN_TIMEOUT_MS, signals: options.signals ?? process, out },
        async () => {
            out(`restore: ${path.basename(archivePath)} into ${db.connection.database}, one transaction`);
            const restored = await restoreBackup({
                archivePath,
                connection: db.connection,
                confirm: async () => true,
                expectEnvironment: db.environment,
                // Marked kept before the restore: the final update's pre-migrate backup prunes with the default keep.
                keptBy: `physioflow rollback ${target.stack.name} --restore`,
                progress: progressOf(run),
            });
            result.migrationVersion = restored.migrationVersion;
        },
    ).catch((error: Error) => {
        if (!(error instanceof InterruptedError) || result.migrationVersion === undefined) throw error;
        throw new Error(
            `${error.message}, but the switch to ${result.to} did not run (the database is at migration ${version}); ` +
                `finish with physioflow rollback <stack> --restore ${archivePath} --color ${result.to}`,
        );
    });
    return { detail: `database restored to ${version}` };
}

/** One stack update: the restored migration version recorded, and the chosen color live behind its smoke test. */
async function switchToRestored(run: RestoreRun, result: RestoreRollbackResult, version: string): Promise<StepDone> {
    const { target, out } = run;
    const { from, to } = result;
    await target.useMigrationVersion?.(version);
    out(`switch: the stack records migration ${version} and ${to === from ? `keeps ${to} live` : `switches to ${to}`}, behind its smoke test`);
    const changes = await update(target, { migrationTarget: version, ...moveMigrations, activeColor: to, inactiveWarm: false }, out);
    return { changes, detail: `${to} live at migration ${version}` };
}

/** "taken while blue ran v1 (live) and green v2", or what an older archive recorded. */
function describeArchiveColors(metadata: BackupMetadata): string {
    if (metadata.colors && metadata.live) {
        const other = otherColor(metadata.live);
        return `taken while ${metadata.live} ran ${metadata.colors[metadata.live]} (live) and ${other} ${metadata.colors[other]}`;
    }
    return `taken while ${metadata.image_tags.api ?? "(no tag recorded)"} was live`;
}

/** A SIGINT or SIGTERM heard while the API was off the database. */
class InterruptedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InterruptedError";
    }
}

/**
 * Runs `work` with the API Deployments at 0 replicas and their pods gone, then gives each its
 * replicas back on every path out: done, failed, timed out, a failing scale, SIGINT or SIGTERM
 * (heard while the API is off the database; during the wait they stop it, during the restore
 * transaction they stop what follows it). Throws what went wrong, saying whether the API has its
 * replicas back and, when a scale back failed, the command that gives them back.
 */
async function withApiOffDatabase(
    target: ReleaseTarget,
    options: { timeoutMs: number; signals: NodeJS.EventEmitter; out: (line: string) => void },
    work: () => Promise<void>,
): Promise<void> {
    const { kubectl, namespace } = target;
    const out = options.out;
    const replicas = replicasToGiveBack(await Promise.all(apiDeployments.map(name => kubectlGet<Deployment>(kubectl, ["deployment", name, "-n", namespace]))));
    let heard: string | undefined;
    const onSignal = (signal: string) => {
        if (heard === undefined) out(`${signal}: stopping; the API gets its replicas back first`);
        heard ??= signal;
    };
    const signals = ["SIGINT", "SIGTERM"] as const;
    for (const signal of signals) options.signals.on(signal, onSignal);
    const interrupted = (when: string) => {
        if (heard !== undefined) throw new InterruptedError(`interrupted by ${heard} ${when}`);
    };
    let failure: unknown;
    try {
        out(`api: off the database (${apiDeployments.map(name => `${name} ${replicas[name]} -> 0`).join(", ")})`);
        for (const name of apiDeployments) await kubectl(["scale", "deployment", name, "-n", namespace, "--replicas=0"]);
        await waitForNoApiPods(kubectl, namespace, options.timeoutMs, () => interrupted("before the restore, nothing restored"));
        await work();
        interrupted("after the database was restored");
    } catch (error) {
        failure = error;
    }
    const notBack = await scaleBack(kubectl, namespace, replicas, out);
    // Scaled back is not serving: the live Service has no ready endpoint until the pods pass their
    // readiness probe, and the switch's update does not wait for Deployments it leaves as they are.
    if (notBack.length === 0) await waitForApiReady(kubectl, namespace, replicas, options.timeoutMs, out);
    for (const signal of signals) options.signals.off(signal, onSignal);
    const why = failure === undefined ? "" : `${failure instanceof Error ? failure.message : JSON.stringify(failure)}; `;
    if (notBack.length > 0) {
        throw new Error(`${why}the API did NOT get its replicas back: run ${notBack.join(" && ")}`);
    }
    if (failure instanceof InterruptedError) throw new InterruptedError(`${why}the API has its replicas back`);
    if (failure !== undefined) throw new Error(`${why}the API has its replicas back`, { cause: failure });
}

/**
 * The replicas each API Deployment gets back after its time off the database, by name: its
 * desired count before the scale to 0, 1 when `spec.replicas` is unset (Kubernetes' default; 0
 * would leave that color with no pods). Pure.
 */
export function replicasToGiveBack(deployments: readonly Deployment[]): Record<string, number> {
    return Object.fromEntries(deployments.map(deployment => [deployment.metadata.name, desiredReplicas(deployment)]));
}

/** Waits for the API's pods to be gone; throws after `timeoutMs`, or as soon as `interrupted` throws. */
async function waitForNoApiPods(kubectl: Kubectl, namespace: string, timeoutMs: number, interrupted: () => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        interrupted();
        const pods = (await kubectlGet<List<Pod>>(kubectl, ["pods", "-n", namespace, "-l", "app=physioflow-api"])).items;
        if (pods.length === 0) return;
        if (Date.now() > deadline) throw new Error(`the API's pods did not stop within ${timeoutMs / 1000} s (${pods.length} left); nothing restored`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
}

/** The live API Service: its endpoints, not only the Deployments' ready counts, say the API serves again. */
const liveApiService = "physioflow-api";

/**
 * After the scale back: waits until each API Deployment has its replicas ready and the live API
 * Service lists ready endpoints (`timeoutMs` at most), and says when, or that they were not.
 * Ready pods are not yet traffic: the Service's EndpointSlice follows them, and only then does
 * kube-proxy route to them (within its sync period, 1 s by default). Never throws: the replicas are
 * back either way, and the switch's smoke test still gates the color it makes live.
 */
async function waitForApiReady(
    kubectl: Kubectl,
    namespace: string,
    replicas: Record<string, number>,
    timeoutMs: number,
    out: (line: string) => void,
): Promise<void> {
    const started = Date.now();
    let unready: string[] = [];
    while (Date.now() - started <= timeoutMs) {
        try {
            const state = await readClusterState(kubectl, namespace);
            unready = Object.keys(replicas)
                .filter(name => (state.deployments[name]?.readyReplicas ?? 0) < replicas[name])
                .map(name => `${name} ${state.deployments[name]?.readyReplicas ?? 0}/${replicas[name]} ready`);
            const live = state.services[liveApiService];
            if (live !== undefined && live.readyPods.length === 0) unready.push(`Service ${liveApiService} has no ready endpoint`);
        } catch (error) {
            unready = [`the cluster could not be read: ${(error as Error).message.split("\n")[0]}`];
        }
        if (unready.length === 0) return void out(`api: ready again, the live Service has its endpoints (${Date.now() - started} ms)`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
    out(`api: warning: not ready ${Math.round(timeoutMs / 1000)} s after the scale back (${unready.join(", ")}); its requests fail until it is`);
}

/**
 * Gives the API Deployments back the replicas they had (so the stack's state stays true), each
 * tried three times. Returns the `kubectl scale` commands that still failed (empty: all back).
 */
async function scaleBack(kubectl: Kubectl, namespace: string, replicas: Record<string, number>, out: (line: string) => void): Promise<string[]> {
    const failed: string[] = [];
    for (const [name, count] of Object.entries(replicas)) {
        const args = ["scale", "deployment", name, "-n", namespace, `--replicas=${count}`];
        for (let attempt = 1; ; attempt++) {
            try {
                await kubectl(args);
                break;
            } catch (error) {
                if (attempt === 3) {
                    out(`api: ${name} not scaled back to ${count}: ${(error as Error).message}`);
                    failed.push(`kubectl ${args.join(" ")}`);
                    break;
                }
                await new Promise(resolve => setTimeout(resolve, 1000));
            }
        }
    }
    const back = Object.entries(replicas).filter(([name]) => !failed.some(command => command.includes(` ${name} `)));
    out(`api: back on the database (${back.map(([name, count]) => `${name} ${count}`).join(", ")})`);
    return failed;
}
