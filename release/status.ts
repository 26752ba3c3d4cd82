/**
 * `physioflow status`: what a stack says and what its cluster does, side by side, with every
 * disagreement flagged: the active color and tags (config and last outputs), each Deployment's
 * ready/desired pods, what the live Services select and serve, the smoke tests, the migration
 * version (ConfigMap and stack output), the last backup, any deploy in progress, and the release
 * record's unresolved alarms (an automatic rollback that failed), flagged until the next
 * successful deploy or rollback of the stack clears them.
 */
import { settingsDigest, stackColorSettings } from "../components/colorSettings";
import { Color, colors } from "../components/colors";
import { BackupStoreDescription, describeBackupStore } from "../components/backupStore";
import { ClusterState, colorReadiness, liveServices, readClusterState } from "./clusterState";
import { lastOutputs } from "./stackEngine";
import { readReleaseSettings } from "./operation";
import { stackConfigFrom } from "./stackConfig";
import { ReleaseSettings, ReleaseTarget } from "./types";
import { readDeployLock } from "./deployLock";
import type { ConfigMap } from "./kubernetesObjects";
import { readReleaseRecord, ReleaseAlarm } from "./releaseRecord";
import { currentMigrationVersion } from "../database";
import { messageOnOneLine } from "../database/errors";

export interface StackStatus {
    settings: ReleaseSettings;
    /** The stack's last outputs (`activeColor`, `tags`, `migrationVersion`, `lastBackup`…). */
    outputs: Record<string, unknown>;
    cluster: ClusterState;
    /** `data.version` of the `migration-version` ConfigMap; undefined when it is missing. */
    configMapVersion?: string;
    lock?: { holder: string; since: string; stale: boolean };
    /** The database's migration version (`schema_migrations`), when the command reaches the database; or why it could not be read. */
    database?: { version: string } | { error: string };
    /** Digest of the settings the stack's config asks for (components/colorSettings.ts). */
    stackSettingsDigest?: string;
    /** The stack's `holdMigrations` is set (a rollback left it): its updates keep the applied version. */
    migrationsHeld?: boolean;
    /** The release record's unresolved alarms (release/releaseRecord.ts), or why the record could not be read. */
    alarms?: ReleaseAlarm[] | { error: string };
    /** Where the stack's backups go (components/backupStore.ts). */
    backupStore?: BackupStoreDescription;
}

export async function readStatus(target: ReleaseTarget): Promise<StackStatus> {
    const [settings, outputs, cluster, configMap, lock, database, config, alarms] = await Promise.all([
        readReleaseSettings(target.stack),
        lastOutputs(target.stack),
        readClusterState(target.kubectl, target.namespace),
        target.kubectl(["get", "configmap", "migration-version", "-n", target.namespace, "-o", "json"]).then(
            json => JSON.parse(json) as ConfigMap,
            () => undefined,
        ),
        readDeployLock(target.kubectl, target.namespace),
        target.database === undefined
            ? undefined
            : currentMigrationVersion(target.database.connection).then(
                  version => ({ version }),
                  (error: unknown) => ({ error: messageOnOneLine(error) }),
              ),
        target.stack.getAllConfig(),
        readReleaseRecord(target.kubectl, target.namespace).then(
            record => record.alarms ?? [],
            (error: unknown) => ({ error: messageOnOneLine(error) }),
        ),
    ]);
    // The program's own reading of the settings (readReleaseSettings above made the same one, and refuses a bad config).
    const stackConfig = stackConfigFrom(config);
    return {
        settings,
        outputs,
        cluster,
        configMapVersion: configMap?.data?.version,
        lock,
        database,
        stackSettingsDigest: settingsDigest(stackColorSettings(stackConfig)),
        migrationsHeld: stackConfig.holdMigrations,
        alarms,
        backupStore: describeBackupStore(stackConfig),
    };
}

/** The status as lines for people; a line starting with `!` is a disagreement to look at. Pure. */
export function formatStatus(status: StackStatus): string[] {
    const { settings, outputs, cluster } = status;
    const lines: string[] = [];
    const active = settings.activeColor;
    const flag = (ok: boolean, text: string) => lines.push(`${ok ? " " : "!"} ${text}`);
    // An output is whatever the last update exported: shown as JSON unless it is the expected string.
    const lastActive = outputs.activeColor === undefined || typeof outputs.activeColor === "string" ? outputs.activeColor : JSON.stringify(outputs.activeColor);
    flag(
        lastActive === undefined || lastActive === active,
        `active color   ${active} in the config${lastActive !== undefined && lastActive !== active ? `, ${lastActive} in the last update's outputs (an update is pending or failed)` : ""}`,
    );
    const outputTags = outputs.tags as Record<Color, string> | undefined;
    for (const color of colors) {
        const tag = settings.tags[color];
        const deployed = outputTags?.[color];
        flag(
            deployed === undefined || deployed === tag,
            `${color.padEnd(5)} tag      ${tag}${color === active ? " (active)" : settings.inactiveWarm ? " (warm)" : ""}${deployed !== undefined && deployed !== tag ? `; ${deployed} deployed` : ""}`,
        );
    }
    // The active color's Deployments must be ready (release/clusterState.ts's one definition); a missing one is a line too.
    const serving = new Map(colorReadiness(cluster, active).apps.map(app => [app.deployment, app]));
    for (const name of [...new Set([...Object.keys(cluster.deployments), ...serving.keys()])].sort((a, b) => a.localeCompare(b))) {
        const d = cluster.deployments[name];
        const app = serving.get(name);
        if (d === undefined) flag(false, `deployment     ${name.padEnd(22)} missing`);
        else
            flag(
                app === undefined || app.ready,
                `deployment     ${name.padEnd(22)} ${d.readyReplicas}/${d.replicas} ready  ${d.image}${app?.note ? ` (${app.note})` : ""}`,
            );
    }
    for (const service of liveServices) {
        const s = cluster.services[service];
        if (s === undefined) {
            flag(false, `live service   ${service} missing`);
            continue;
        }
        const selects = s.selector.version;
        flag(
            selects === active && s.readyPods.length > 0 && s.readyColors.every(c => c === active),
            `live service   ${service.padEnd(22)} selects ${selects}; ${s.readyPods.length} ready endpoint(s)${s.readyColors.length ? `: ${s.readyColors.join(", ")}` : ""}${selects !== active ? ` (the config says ${active})` : ""}`,
        );
    }
    for (const [name, j] of Object.entries(cluster.jobs).sort(([a], [b]) => a.localeCompare(b))) {
        flag(j.status !== "failed", `smoke test     ${name.padEnd(22)} ${j.status}${j.tag ? ` (${j.tag}, migration ${j.migrationVersion})` : ""}`);
    }
    const outputVersion = outputs.migrationVersion as string | undefined;
    const db = status.database;
    const dbVersion = db && "version" in db ? db.version : undefined;
    flag(
        status.configMapVersion !== undefined &&
            (outputVersion === undefined || outputVersion === status.configMapVersion) &&
            (db === undefined || dbVersion === status.configMapVersion),
        `migration      ${db === undefined ? "" : dbVersion !== undefined ? `${dbVersion} in the database, ` : `database unreadable (${(db as { error: string }).error}), `}` +
            `${status.configMapVersion ?? "(no ConfigMap)"} in ConfigMap migration-version${outputVersion !== undefined ? `, ${outputVersion} in the stack output` : ""}`,
    );
    if (status.migrationsHeld) {
        lines.push(
            `  migrations     held at ${outputVersion ?? "the applied version"} (holdMigrations, set by a rollback): no update backs up or migrates until the next deploy's release step`,
        );
    }
    const colorSettings = outputs.colorSettings as Record<Color, Parameters<typeof settingsDigest>[0]> | undefined;
    if (colorSettings !== undefined && status.stackSettingsDigest !== undefined) {
        // Not a disagreement: the live color keeps its settings until a release to the other color and a switch.
        const describe = (color: Color) =>
            colorSettings[color] === undefined
                ? "unknown"
                : settingsDigest(colorSettings[color]) === status.stackSettingsDigest
                  ? "the stack's"
                  : "older than the stack's";
        lines.push(`  settings       ${colors.map(color => `${color}${color === active ? " (active)" : ""}: ${describe(color)}`).join("; ")}`);
    }
    lines.push(`  last backup    ${(outputs.lastBackup as string | undefined) ?? "(none recorded by the stack)"}`);
    // A store left out on purpose (backupLocalOnly) is said, not flagged.
    const store = status.backupStore;
    if (store !== undefined) flag(store.stored || store.localOnly, `backup store   ${store.text}`);
    if (status.lock === undefined) lines.push("  deploy         none in progress");
    else
        flag(
            !status.lock.stale,
            `deploy         ${status.lock.stale ? "abandoned (the next deploy or rollback takes its lock over): " : "in progress: "}${status.lock.holder}, since ${status.lock.since}`,
        );
    if (status.alarms !== undefined && "error" in status.alarms) flag(false, `alarms         the release record cannot be read: ${status.alarms.error}`);
    for (const alarm of Array.isArray(status.alarms) ? status.alarms : []) {
        flag(false, `alarm          ${alarm.kind} at ${alarm.at}: ${alarm.text}; cleared by the next successful deploy or rollback`);
    }
    return lines;
}
