/**
 * `npm run local`: the program, for real, on this machine. A `local` stack on a file backend in
 * `.local/`, a PostgreSQL and a Kubernetes control plane it starts (data kept in `.local/postgres`
 * and `.local/cluster`) and stops, the database steps through database/index.ts, then the
 * engine's preview and update of the cluster half against that control plane, with the rollout
 * shown as the API server reports it, then the resulting state.
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
import { applySettings, localStackSettings, managedKeys, parseSetting } from "./localStackConfig";
import { freeLoopbackPort, loopbackPortIsFree } from "../devenv/freePorts";
import { PostgresServer, startPostgres, stopPostgresIn } from "../devenv/postgresServer";
import { followClusterState, readClusterState } from "../release/clusterState";
import { Cluster, startCluster, stopClusterIn } from "../devenv/cluster";
import { formatState, formatSteps, summarizeSteps } from "./report";

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

/** One local run; `out` gets every line to print. Throws one-line errors. */
export async function runLocal(repoRoot: string, sets: readonly string[], out: (line: string) => void): Promise<void> {
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
        const upEvents: auto.EngineEvent[] = [];
        const started = Date.now();
        const follow = followClusterState(cluster.kubectl, config.namespace, line => out(`   ${line}`));
        let up: auto.UpResult;
        try {
            up = await stack.up({ program, onEvent: event => upEvents.push(event) });
        } finally {
            await follow.stop();
        }
        out(`   ${summarizeSteps(resourceSteps(upEvents), "did")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

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
    } finally {
        out("");
        if (cluster !== undefined) {
            await cluster.stop({ keep: true });
            out(`cluster: stopped (data kept in ${rel(paths.cluster)})`);
        }
        await server.stop();
        out(`postgres: stopped (data kept in ${rel(paths.postgresData)})`);
    }
}
