/**
 * `rollback --restore FILE`: the runbook's scenario 2 (application and database), as one command.
 * Verify the archive; pick the color whose tag the archive was taken under; take a safety backup
 * of what is about to be replaced; take the API off the database (its Deployments scaled to 0
 * through the API, as the runbook's `kubectl scale`); restore in one transaction (the runner
 * checks the restored migration version against the archive's); give the API its pods back; then
 * one stack update records the restored version and switches to the chosen color behind its
 * smoke test. A failed restore changes nothing and the API gets its pods back all the same.
 */
import * as path from "path";
import { Color, colors, otherColor } from "../components/colors";
import { createBackup, restoreBackup, verifyBackup } from "../database";
import { Kubectl } from "./clusterState";
import { elapsed, engineErrorSummary, readReleaseSettings, ReleaseTarget, takeReleaseLock, update } from "./deploy";
import { refuseStaleCheckout } from "./checkout";
import { tellTeam } from "./notify";
import type { RollbackResult } from "./rollback";

/** The API Deployments: the app that holds database connections. */
const apiDeployments = colors.map(color => `physioflow-api-${color}`);

export interface RestoreRollbackResult extends RollbackResult {
    /** The archive's migration version, now the database's. */
    migrationVersion?: string;
    /** The backup of the database as it was before the restore. */
    safetyBackup?: string;
}

/**
 * The color to bring back: the one running the tag the archive's metadata recorded as live when it
 * was taken. Archives without tags (a manual backup): the inactive color. Pure.
 */
export function colorForArchive(tags: Record<Color, string>, active: Color, archiveTags: Record<string, string>, archive: string): Color {
    const tag = archiveTags.api;
    if (tag === undefined) return otherColor(active);
    if (tags[otherColor(active)] === tag) return otherColor(active);
    if (tags[active] === tag) return active;
    throw new Error(
        `${archive} was taken while ${tag} was live, but blue runs ${tags.blue} and green ${tags.green}; ` +
            `release ${tag} to the inactive color first (physioflow deploy), or restore with physioflow backup restore`,
    );
}

export async function restoreRollback(
    target: ReleaseTarget,
    archivePath: string,
    options: { out?: (line: string) => void } = {},
): Promise<RestoreRollbackResult> {
    const out = options.out ?? (() => undefined);
    const db = target.database;
    if (db === undefined) throw new Error("rollback --restore needs the stack's database (dbHost, dbName, dbUser and the dbPassword secret in its config)");
    const lock = await takeReleaseLock(target, `rollback --restore ${path.basename(archivePath)}`, out);
    // Before any change: an older checkout's file would restore under the wrong color.
    const settings = await readReleaseSettings(target.stack)
        .then(async read => {
            await refuseStaleCheckout(target, read);
            return read;
        })
        .catch(async error => {
            await lock.release();
            throw error;
        });
    const from = settings.activeColor;
    const result: RestoreRollbackResult = { ok: false, from, to: otherColor(from), steps: [] };
    const progress = { line: (text: string) => out(`  ${text}`) };
    try {
        let started = Date.now();
        out(`verify: ${archivePath}`);
        const archive = await verifyBackup(archivePath, progress);
        if (archive.metadata.environment !== db.environment) {
            throw new Error(`${archivePath} is a backup of "${archive.metadata.environment}", not "${db.environment}"; nothing changed`);
        }
        const to = colorForArchive(settings.tags, from, archive.metadata.image_tags, archivePath);
        result.to = to;
        const version = archive.metadata.migration_version;
        out(
            `  ${archive.metadata.label} of ${archive.metadata.created_at}, migration ${version}, taken while ${archive.metadata.image_tags.api ?? "(no tag recorded)"} was live: ${to} runs ${settings.tags[to]}`,
        );
        result.steps.push({ step: "verify", changes: [], seconds: elapsed(started), result: "archive verified" });

        started = Date.now();
        out("backup: the database as it is now, before it is replaced");
        const safety = await createBackup({
            connection: db.connection,
            outDir: db.backupDir,
            environment: db.environment,
            label: "pre-restore",
            imageTags: { api: settings.tags[from], web: settings.tags[from] },
            progress,
        });
        result.safetyBackup = safety.archivePath;
        out(`  ${safety.archivePath} (verified)`);
        result.steps.push({ step: "backup", changes: [], seconds: elapsed(started), result: `safety backup ${path.basename(safety.archivePath)}` });

        started = Date.now();
        const replicas = await scaleApiToZero(target.kubectl, target.namespace, out);
        try {
            out(`restore: ${path.basename(archivePath)} into ${db.connection.database}, one transaction`);
            const restored = await restoreBackup({
                archivePath,
                connection: db.connection,
                confirm: async () => true,
                expectEnvironment: db.environment,
                progress,
            });
            result.migrationVersion = restored.migrationVersion;
        } finally {
            await scaleBack(target.kubectl, target.namespace, replicas, out);
        }
        result.steps.push({ step: "restore", changes: [], seconds: elapsed(started), result: `database restored to ${version}` });

        started = Date.now();
        await target.useMigrationVersion?.(version);
        out(`switch: the stack records migration ${version} and ${to === from ? `keeps ${to} live` : `switches to ${to}`}, behind its smoke test`);
        const changes = await update(target, { migrationTarget: version, activeColor: to, inactiveWarm: "false" }, out);
        result.steps.push({ step: "switch", changes, seconds: elapsed(started), result: `${to} live at migration ${version}` });
        result.ok = true;
        await tellTeam(
            settings.notifyWebhookUrl,
            {
                event: "restore-rollback",
                namespace: target.namespace,
                from,
                to,
                text: `${target.namespace}: database restored from ${path.basename(archivePath)} (migration ${version}); ${to} is live`,
            },
            out,
        );
        return result;
    } catch (error) {
        result.error = engineErrorSummary(error);
        return result;
    } finally {
        await lock.release();
    }
}

/** Scales the API Deployments to 0 and waits for their pods to be gone; returns the replicas each had. */
async function scaleApiToZero(kubectl: Kubectl, namespace: string, out: (line: string) => void): Promise<Record<string, number>> {
    const replicas: Record<string, number> = {};
    for (const name of apiDeployments) {
        const deployment = JSON.parse(await kubectl(["get", "deployment", name, "-n", namespace, "-o", "json"]));
        replicas[name] = deployment.spec.replicas ?? 0;
    }
    out(`api: off the database (${apiDeployments.map(name => `${name} ${replicas[name]} -> 0`).join(", ")})`);
    for (const name of apiDeployments) await kubectl(["scale", "deployment", name, "-n", namespace, "--replicas=0"]);
    const deadline = Date.now() + 120_000;
    for (;;) {
        const pods = JSON.parse(await kubectl(["get", "pods", "-n", namespace, "-l", "app=physioflow-api", "-o", "json"])).items as unknown[];
        if (pods.length === 0) return replicas;
        if (Date.now() > deadline) throw new Error(`the API's pods did not stop within 120 s (${pods.length} left); nothing restored`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
}

/** Gives the API Deployments back the replicas the stack declared (so the stack's state stays true). */
async function scaleBack(kubectl: Kubectl, namespace: string, replicas: Record<string, number>, out: (line: string) => void): Promise<void> {
    for (const [name, count] of Object.entries(replicas)) await kubectl(["scale", "deployment", name, "-n", namespace, `--replicas=${count}`]);
    out(
        `api: back on the database (${Object.entries(replicas)
            .map(([name, count]) => `${name} ${count}`)
            .join(", ")})`,
    );
}
