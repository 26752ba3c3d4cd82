/**
 * The `local` stack (the one `npm run local` keeps in `.local/`) as a release target: its
 * control plane (`.local/cluster`) and PostgreSQL (`.local/postgres`) started for the command,
 * and stopped after. When another command already runs them (a deploy in another terminal), this
 * one attaches to them and leaves them to it, so `status`, `verify` and an emergency rollback
 * work while a deploy runs. The stack is the cluster half only, so a deploy migrates the database itself.
 * A stack whose pods run on a real node (`podNodeLabel`, set by `npm run local` unless `--no-node`)
 * gets one started beside its control plane, with PostgreSQL relayed into it, and stopped after.
 */
import * as path from "path";
import * as fs from "fs";
import { UsageError } from "../database/errors";
import { OpenedReleaseTarget } from "../release/types";
import { attachCluster, startCluster } from "../devenv/cluster";
import { clusterProgram, openClusterStack } from "./clusterStack";
import { findEngine } from "../devenv/engine";
import { kubectlGet } from "../devenv/kubectl";
import type { ConfigMap } from "../release/kubernetesObjects";
import { localPaths } from "./run";
import { postgresRunningIn, startPostgres } from "../devenv/postgresServer";
import { releaseDatabaseFromConfig } from "../release/releaseDatabase";
import { stackConfigFrom, stackSecret } from "../release/stackConfig";
import { RealNode } from "../devenv/node";
import { startNodeWithStandIns } from "../devenv/nodeTraffic";

/** The local target, and the real node its pods run on when this command started one (with the load generator's binary). */
export interface LocalReleaseTarget extends OpenedReleaseTarget {
    node?: { node: RealNode; loadBinary: string };
}

export async function openLocalReleaseTarget(repoRoot: string, out: (line: string) => void): Promise<LocalReleaseTarget> {
    const paths = localPaths(repoRoot);
    if (!fs.existsSync(paths.passphrase) || !fs.existsSync(paths.kubeconfig)) {
        throw new UsageError("there is no local stack yet; run npm run local first");
    }
    const engine = await findEngine(line => out(`engine: ${line}`));
    // Attached: stop() leaves the cluster to the command that started it.
    const attached = await attachCluster(paths.cluster);
    const cluster = attached ?? (await startCluster({ dir: paths.cluster }));
    let stopPostgres = async () => undefined as void;
    let started: LocalReleaseTarget["node"];
    const stopNode = async () => {
        await started?.node.stop();
        started = undefined;
    };
    try {
        const stack = await openClusterStack({
            engine,
            stackName: "local",
            workDir: paths.project,
            stateDir: paths.state,
            pulumiHome: paths.pulumiHome,
            passphrase: fs.readFileSync(paths.passphrase, "utf8").trim(),
            out,
        });
        const config = await stack.getAllConfig();
        // The program's own reading of the settings (its defaults, a bad value refused in one line); secrets where they are used.
        const settings = stackConfigFrom(config);
        const namespace = settings.namespace;
        // The version the last update recorded (npm run local migrates before it deploys).
        const version = (await kubectlGet<ConfigMap>(cluster.kubectl, ["configmap", "migration-version", "-n", namespace])).data!.version;
        stack.workspace.program = clusterProgram(version);
        // A server running beside an attached cluster is its owner's; one running without a cluster
        // was left by a killed command, and startPostgres restarts it as its own.
        const running = attached ? postgresRunningIn(paths.postgresData) : undefined;
        let server: { host: string; port: number };
        if (running) server = { host: "127.0.0.1", port: running.port };
        else {
            const started = await startPostgres({
                dataDir: paths.postgresData,
                logFile: paths.postgresLog,
                port: settings.database.port,
                user: settings.database.adminUser,
                password: stackSecret(config, "dbAdminPassword"),
            });
            stopPostgres = () => started.stop();
            server = started;
        }
        const database = releaseDatabaseFromConfig(settings, key => stackSecret(config, key), repoRoot, {
            migratesOutsideStack: true,
            host: server.host,
            port: server.port,
        });
        // An attached command leaves the node, like the cluster, to the command that started them.
        if (settings.pods.node !== undefined && !attached) {
            started = await startNodeWithStandIns(cluster, () => undefined);
            await started.node.relay(server.port);
            out(`local: real node ${started.node.name} started (the stack's pods run on it), PostgreSQL relayed into it`);
        }
        const rel = (p: string) => path.relative(repoRoot, p);
        out(
            attached
                ? running
                    ? `local: attached to the control plane running in ${rel(paths.cluster)} and PostgreSQL running on ${rel(paths.postgresData)} (left to the command that started them); migration version ${version}`
                    : `local: attached to the control plane running in ${rel(paths.cluster)} (left to the command that started it), PostgreSQL started from ${paths.postgresData}; migration version ${version}`
                : `local: control plane started from ${paths.cluster}, PostgreSQL from ${paths.postgresData}; migration version ${version}`,
        );
        return {
            target: {
                stack,
                kubectl: cluster.kubectl,
                namespace,
                database,
                useMigrationVersion: (migrated: string) => {
                    stack.workspace.program = clusterProgram(migrated);
                },
            },
            node: started,
            close: async () => {
                await stopNode();
                await stopPostgres();
                await cluster.stop({ keep: true });
            },
        };
    } catch (error) {
        await stopNode();
        await stopPostgres();
        await cluster.stop({ keep: true });
        throw error;
    }
}
