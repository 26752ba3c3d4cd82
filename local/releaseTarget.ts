/**
 * The `local` stack (the one `npm run local` keeps in `.local/`) as a release target: its
 * control plane started from `.local/cluster` for the command, and stopped after.
 */
import * as fs from "fs";
import { UsageError } from "../database/errors";
import { ReleaseTarget } from "../release/deploy";
import { startCluster } from "../testbed/cluster";
import { clusterProgram, openClusterStack } from "./clusterStack";
import { findEngine } from "./engine";
import { localPaths } from "./run";

export async function openLocalReleaseTarget(repoRoot: string, out: (line: string) => void): Promise<{ target: ReleaseTarget; close(): Promise<void> }> {
    const paths = localPaths(repoRoot);
    if (!fs.existsSync(paths.passphrase) || !fs.existsSync(paths.kubeconfig)) {
        throw new UsageError("there is no local stack yet; run npm run local first");
    }
    const engine = await findEngine(line => out(`engine: ${line}`));
    const cluster = await startCluster({ dir: paths.cluster });
    try {
        const stack = await openClusterStack({
            engine, stackName: "local", workDir: paths.project, stateDir: paths.state, pulumiHome: paths.pulumiHome,
            passphrase: fs.readFileSync(paths.passphrase, "utf8").trim(),
        });
        const config = await stack.getAllConfig();
        const namespace = config["physioflow:namespace"]?.value ?? "physioflow-local";
        // The version the last update recorded (npm run local migrates before it deploys).
        const version = (await cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version as string;
        stack.workspace.program = clusterProgram(version);
        out(`local: control plane started from ${paths.cluster}; migration version ${version}`);
        return { target: { stack, kubectl: cluster.kubectl, namespace }, close: () => cluster.stop({ keep: true }) };
    } catch (error) {
        await cluster.stop({ keep: true });
        throw error;
    }
}
