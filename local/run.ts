/**
 * `npm run local`: the program, for real, on this machine. A `local` stack on a file backend in
 * `.local/`, a PostgreSQL and a Kubernetes control plane it starts (data kept in `.local/postgres`
 * and `.local/cluster`) and stops, a real node beside it where the apps' pods run (started and
 * stopped each run; kwok's pods with `node: false`), the database steps through database/index.ts,
 * then the engine's preview and update of the cluster half against that control plane, with the
 * rollout shown as the API server reports it and measured under load from inside the node, then
 * the resulting state and the live API answering.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../components/config";
import { createBackup, currentMigrationVersion, migrateUp } from "../database";
import { clusterProgram, openClusterStack } from "./clusterStack";
import { findEngine } from "../devenv/engine";
import { diagnostics, resourceSteps } from "../release/engineEvents";
import { ensureAppDatabase } from "./localDatabase";
import { applySettings, localStackSettings, managedKeys, nodeSettings, parseSetting } from "./localStackConfig";
import { freeLoopbackPort, loopbackPortIsFree } from "../devenv/freePorts";
import { PostgresServer, startPostgres, stopPostgresIn } from "../devenv/postgresServer";
import { followClusterState, readClusterState, servesOnly } from "../release/clusterState";
import { Cluster, startCluster, stopClusterIn } from "../devenv/cluster";
import { formatServing, formatState, formatSteps, ServingReport, summarizeSteps, timelineEvent } from "./report";
import { RealNode } from "../devenv/node";
import { fileName, getInNode, measureInNode, podsIn, realNodeUnavailable, serviceUrl, startNodeWithStandIns, writeTimeline } from "../devenv/nodeTraffic";
import { LoadRun } from "../devenv/loadGenerator";
import { appNames } from "../components/appNames";
import { apiPort } from "../components/colorSettings";
import { loginRole } from "../components/colorCredentials";
import { isColor } from "../components/colors";

/** Where the local run keeps things; everything under `<repo>/.local`. */
export function localPaths(repoRoot: string) {
    const root = path.join(repoRoot, ".local");
    return {
        root,
        state: path.join(root, "state"),
        project: path.join(root, "project"),
        pulumiHome: path.join(root, "pulumi-home"),
        passphrase: path.join(root, "passphrase"),
        postgresData: path.join(root, "postgres", "data"),
        postgresLog: path.join(root, "postgres", "server.log"),
        cluster: path.join(root, "cluster"),
        kubeconfig: path.join(root, "cluster", "kubeconfig"),
        /** The traffic timelines of measured updates (SVG). */
        traffic: path.join(root, "traffic"),
        /** Relative to the repository: the stack's backupDir setting allows no spaces. */
        backups: ".local/backups",
    };
}

const stackName = "local";

/** Deletes `.local/`, stopping a PostgreSQL or control plane an interrupted run left running in it. */
export async function resetLocal(repoRoot: string, out: (line: string) => void): Promise<void> {
    const paths = localPaths(repoRoot);
    if (!fs.existsSync(paths.root)) {
        out(".local/ does not exist; nothing to delete");
        return;
    }
    stopPostgresIn(paths.postgresData);
    stopClusterIn(paths.cluster);
    fs.rmSync(paths.root, { recursive: true, force: true });
    out("deleted .local/ (stack state and config, PostgreSQL data, cluster data, backups)");
}

export interface LocalRunOptions {
    /** Run the apps' pods on a real node started beside the control plane; false: kwok plays them. Default true. */
    node?: boolean;
}

/** One local run; `out` gets every line to print. Throws one-line errors. */
export async function runLocal(repoRoot: string, sets: readonly string[], out: (line: string) => void, options: LocalRunOptions = {}): Promise<void> {
    const withNode = options.node ?? true;
    const unavailable = withNode ? realNodeUnavailable() : undefined;
    if (unavailable !== undefined) {
        throw new Error(`a real node cannot start here: ${unavailable}; npm run local -- --no-node runs with kwok playing the pods (docs/local.md)`);
    }
    const paths = localPaths(repoRoot);
    const rel = (p: string) => path.relative(repoRoot, p) || ".";
    const changes = sets.map(parseSetting);
    const indent = (lines: string[]) => lines.forEach(line => out(`   ${line}`));

    const engine = await findEngine(line => out(`engine: ${line}`));
    out(`engine: pulumi v${engine.version} (${engine.pulumiPath}); stack "${stackName}" on file://${rel(paths.state)}`);

    fs.mkdirSync(paths.root, { recursive: true });
    if (!fs.existsSync(paths.passphrase)) {
        fs.writeFileSync(paths.passphrase, `${crypto.randomBytes(24).toString("hex")}\n`, { mode: 0o600 });
    }
    const stack = await openClusterStack({
        engine,
        stackName,
        workDir: paths.project,
        stateDir: paths.state,
        pulumiHome: paths.pulumiHome,
        passphrase: fs.readFileSync(paths.passphrase, "utf8").trim(),
    });

    // The stack's config, first run: local settings and generated secrets.
    let all = await stack.getAllConfig();
    if (Object.keys(all).length === 0) {
        if (fs.existsSync(path.join(paths.postgresData, "PG_VERSION"))) {
            throw new ConfigError(`${rel(paths.postgresData)} holds a database but the local stack has no config; start over with npm run local -- --reset`);
        }
        const initial: auto.ConfigMap = {
            "physioflow:dbPassword": { value: crypto.randomBytes(16).toString("hex"), secret: true },
            "physioflow:dbAdminPassword": { value: crypto.randomBytes(16).toString("hex"), secret: true },
            "physioflow:blueDbPassword": { value: crypto.randomBytes(16).toString("hex"), secret: true },
            "physioflow:greenDbPassword": { value: crypto.randomBytes(16).toString("hex"), secret: true },
        };
        const defaults = localStackSettings({ kubeconfig: paths.kubeconfig, backupDir: paths.backups, dbPort: await freeLoopbackPort() });
        for (const [key, value] of Object.entries(defaults)) initial[`physioflow:${key}`] = { value };
        await stack.setAllConfig(initial);
        all = await stack.getAllConfig();
        out(`config: new local stack (${rel(path.join(paths.project, `Pulumi.${stackName}.yaml`))}), secrets generated`);
    }
    // A stack made by an older version lacks the colors' own passwords (their login roles): add them.
    const missing = ["blueDbPassword", "greenDbPassword"].filter(key => all[`physioflow:${key}`] === undefined);
    if (missing.length > 0) {
        await stack.setAllConfig(
            Object.fromEntries(missing.map(key => [`physioflow:${key}`, { value: crypto.randomBytes(16).toString("hex"), secret: true }])),
        );
        all = await stack.getAllConfig();
        out(`config: ${missing.join(" and ")} generated`);
    }
    const current: Record<string, string> = {};
    for (const [key, { value, secret }] of Object.entries(all)) {
        if (key.startsWith("physioflow:") && !secret) current[key.slice("physioflow:".length)] = value;
    }
    if (current.renderYamlTo !== undefined) {
        throw new ConfigError(
            ".local/ was made by an npm run local that rendered manifests instead of deploying to a cluster; start over with npm run local -- --reset",
        );
    }
    const { config } = applySettings(current, changes);
    const changed: auto.ConfigMap = {};
    // Settings that describe this machine follow it (e.g. kubeconfig after the repository moved).
    const machine = localStackSettings({ kubeconfig: paths.kubeconfig, backupDir: paths.backups, dbPort: config.database.port });
    const owned = Object.keys(managedKeys)
        .filter(key => key in machine)
        .map(key => [key, machine[key]] as [string, string]);
    for (const [key, value] of [...owned, ...changes]) {
        if (current[key] !== value) {
            changed[`physioflow:${key}`] = { value };
            out(`config: ${key} ${current[key] ?? "(unset)"} -> ${value}`);
        }
    }
    if (Object.keys(changed).length > 0) await stack.setAllConfig(changed);
    const secret = (key: string) => all[`physioflow:${key}`].value;
    const db = config.database;

    // PostgreSQL, started here and stopped at the end whatever happens.
    if (!(await loopbackPortIsFree(db.port))) {
        throw new ConfigError(`127.0.0.1:${db.port} (physioflow:dbPort) is in use by another program; pick a free port: npm run local -- --set dbPort=<port>`);
    }
    const server: PostgresServer = await startPostgres({
        dataDir: paths.postgresData,
        logFile: paths.postgresLog,
        port: db.port,
        user: db.adminUser,
        password: secret("dbAdminPassword"),
    });
    out(`postgres: PostgreSQL ${server.major} on 127.0.0.1:${server.port}, data in ${rel(paths.postgresData)}${server.created ? " (new)" : ""}`);
    let cluster: Cluster | undefined;
    let node: RealNode | undefined;
    try {
        const hadCluster = fs.existsSync(path.join(paths.cluster, "etcd"));
        const clusterStarted = Date.now();
        cluster = await startCluster({
            dir: paths.cluster,
            progress: line => {
                if (/: building |: done in /.test(line)) out(`cluster: ${line}`);
            },
        });
        out(
            `cluster: Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler; kwok node) on 127.0.0.1, ` +
                `ready in ${((Date.now() - clusterStarted) / 1000).toFixed(1)} s, data in ${rel(paths.cluster)}${hadCluster ? "" : " (new)"}`,
        );
        let loadBinary = "";
        if (withNode) {
            const nodeStarted = Date.now();
            ({ node, loadBinary } = await startNodeWithStandIns(cluster, line => {
                if (/: building |: done in /.test(line)) out(`node: ${line}`);
            }));
            const dbRelay = await node.relay(server.port);
            out(
                `node: real node ${node.name} (kubelet, kube-proxy, containerd; stand-in images imported) joined, ready in ` +
                    `${((Date.now() - nodeStarted) / 1000).toFixed(1)} s; its pods reach PostgreSQL at ${dbRelay}`,
            );
        }
        // Where the pods run follows the run: on the node it started, or kwok's with --no-node.
        const placement = withNode ? nodeSettings({ label: `${node!.label.key}=${node!.label.value}`, dbHost: node!.ip }) : undefined;
        for (const key of ["podNodeLabel", "imagePullPolicy", "dbHostForPods"] as const) {
            const value = placement?.[key];
            if (current[key] === value) continue;
            if (value === undefined) await stack.removeConfig(`physioflow:${key}`);
            else await stack.setConfig(`physioflow:${key}`, { value });
            out(`config: ${key} ${current[key] ?? "(unset)"} -> ${value ?? "(unset)"}`);
        }
        out("");
        out("1. database: role and database (AppDatabase), backup, then migrate (DatabaseRelease)");
        out(
            "   done here through database/index.ts, outside the engine: the stack's command and postgresql plugins cannot be built on this machine (docs/engine.md)",
        );
        const appDatabase = await ensureAppDatabase({
            admin: { host: server.host, port: server.port, user: server.user, password: server.password },
            database: db.name,
            user: db.user,
            password: secret("dbPassword"),
            colorLogins: {
                blue: { user: loginRole(db.user, "blue"), password: secret("blueDbPassword") },
                green: { user: loginRole(db.user, "green"), password: secret("greenDbPassword") },
            },
        });
        out(`   ${appDatabase}`);
        const connection = { host: server.host, port: server.port, user: db.user, password: secret("dbPassword"), database: db.name };
        const progress = { line: (text: string) => out(`   ${text}`) };
        const migrated = await migrateUp({
            dir: path.join(repoRoot, "migrations"),
            connection,
            to: config.migrationTarget,
            progress,
            beforeChanges: async ({ to }) => {
                const backup = await createBackup({
                    connection,
                    outDir: path.join(repoRoot, paths.backups),
                    environment: config.environment,
                    label: `pre-migrate-${to}`,
                    imageTags: { api: config.tags[config.activeColor], web: config.tags[config.activeColor] },
                    progress,
                });
                out(`   backup: ${path.relative(repoRoot, backup.archivePath)} (verified)`);
            },
        });
        const applied = await currentMigrationVersion(connection);
        out(
            migrated.steps.length === 0
                ? `   nothing to apply: at ${applied}; no backup needed (the stack's backup and migrate run only when migrations change)`
                : `   migrated ${migrated.from} -> ${migrated.to}`,
        );

        out("");
        out(`2. preview (engine): the cluster half, deployApps() with migration version ${applied}`);
        const program = clusterProgram(applied);
        const previewEvents: auto.EngineEvent[] = [];
        await stack.preview({ program, onEvent: event => previewEvents.push(event) });
        const planned = resourceSteps(previewEvents);
        indent(formatSteps(planned));
        diagnostics(previewEvents, "warning").forEach(line => out(`   warning: ${line}`));

        out("");
        out(`3. up (engine): applied to the control plane; what the API server reports as it happens:`);
        const kubectl = cluster.kubectl;
        const upEvents: auto.EngineEvent[] = [];
        let started = Date.now();
        const update = async (load?: LoadRun) => {
            started = Date.now();
            return following(kubectl, config.namespace, { report: line => out(`   ${line}`), load }, () =>
                stack.up({ program, onEvent: event => upEvents.push(event) }),
            );
        };
        let up: auto.UpResult | undefined;
        let traffic: ServingReport["traffic"] = { notMeasured: "no real node (--no-node)" };
        if (node !== undefined) {
            const live = await liveBefore(kubectl, config.namespace, out);
            if ("notMeasured" in live) {
                traffic = live;
            } else {
                const phase = live.color === config.activeColor ? `update (${live.color} live)` : `switch ${live.color}→${config.activeColor}`;
                out(`   measured: ${phase}, under load from inside the node (GET ${live.url}, 50/s on new connections and 50/s on keep-alive ones)`);
                const measured = await measureInNode(node, { loadBinary, url: live.url, phase }, async load => {
                    up = await update(load);
                });
                traffic = { figures: measured.figures, timeline: rel(writeTimeline(paths.traffic, measured.report, phase, timelineName(phase))) };
            }
        }
        up ??= await update();
        out(`   ${summarizeSteps(resourceSteps(upEvents), "did")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if ("figures" in traffic) out(`   traffic: ${traffic.figures}`);

        out("");
        out("4. state");
        const outputs = Object.fromEntries(Object.entries(up.outputs).map(([key, o]) => [key, o.value]));
        indent(
            formatState({
                outputs,
                cluster: await readClusterState(cluster.kubectl, config.namespace),
                databaseVersion: applied,
            }),
        );
        if (node !== undefined) {
            out("");
            out(`5. serving: the real node ${node.name}; requests from inside its network namespace, never from this machine's`);
            const requests: ServingReport["requests"] = [];
            for (const urlPath of ["/version", "/health"]) {
                const url = await serviceUrl(kubectl, config.namespace, appNames.api, apiPort, urlPath);
                requests.push({ url, answer: await getInNode(node, url) });
            }
            const pods = await podsIn(kubectl, config.namespace, `app in (${appNames.api},${appNames.web})`);
            indent(formatServing({ node: node.name, pods, requests, traffic }));
        }
    } finally {
        out("");
        if (node !== undefined) {
            await node.stop();
            out(`node: stopped (its pods' containers, namespaces and cgroups removed; the next run starts a new one)`);
        }
        if (cluster !== undefined) {
            await cluster.stop({ keep: true });
            out(`cluster: stopped (data kept in ${rel(paths.cluster)})`);
        }
        await server.stop();
        out(`postgres: stopped (data kept in ${rel(paths.postgresData)})`);
    }
}

/**
 * What an update is measured against: the live API Service, once it serves again (the pods of the
 * last run come back on the new node), or why it is not measured (nothing live yet). Said on `out`
 * when the wait took more than a second.
 */
export async function liveBefore(
    kubectl: Cluster["kubectl"],
    namespace: string,
    out: (line: string) => void,
): Promise<{ color: string; url: string } | { notMeasured: string }> {
    const state = await readClusterState(kubectl, namespace).catch(() => undefined);
    const color = state?.services[appNames.api]?.selector.version;
    if (color === undefined || !isColor(color)) return { notMeasured: "nothing was live before this update" };
    const waited = Date.now();
    const deadline = waited + 120_000;
    for (;;) {
        const now = await readClusterState(kubectl, namespace).catch(() => undefined);
        if (now !== undefined && servesOnly(now, color, [appNames.api])) break;
        if (Date.now() > deadline) return { notMeasured: `${appNames.api} had no ready endpoint of ${color} within 120 s before the update` };
        await new Promise(resolve => setTimeout(resolve, 250));
    }
    if (Date.now() - waited > 1000) out(`   ${color}'s pods serve again on the new node after ${((Date.now() - waited) / 1000).toFixed(1)} s`);
    return { color, url: await serviceUrl(kubectl, namespace, appNames.api, apiPort, "/version") };
}

/** `switch blue→green` → `switch-blue-green-20261207-091502`: one file per measured update. */
function timelineName(phase: string): string {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    return `${fileName(phase)}-${stamp}`;
}

/**
 * Runs `action` while following the rollout (release/clusterState.ts `followClusterState`): each
 * change goes to `report`, and the live API's (its Service's endpoints, its Deployments' ready
 * counts) are marked on `load`'s timeline.
 */
export async function following<T>(
    kubectl: Cluster["kubectl"],
    namespace: string,
    options: { report?: (line: string) => void; load?: LoadRun },
    action: () => Promise<T>,
): Promise<T> {
    const follow = followClusterState(kubectl, namespace, line => {
        options.report?.(line);
        const event = options.load && timelineEvent(line);
        if (event) void options.load!.event(event).catch(() => undefined);
    });
    try {
        return await action();
    } finally {
        await follow.stop();
    }
}
