/**
 * The program's cluster half (components/deployApps.ts) as an Automation API inline program, on a
 * stack whose state, config and PULUMI_HOME live in directories the caller chooses. Used by the
 * engine tests (temp dirs) and `npm run local` (`.local/`).
 */
import * as auto from "@pulumi/pulumi/automation";
import { withEngineTemp } from "../devenv/engineTemp";
import * as fs from "fs";
import * as path from "path";
import { deployApps, guardReleaseStep, loadStackConfig, loginRole, settingsByColor } from "../components";
import { PulumiEngine } from "../devenv/engine";
import { fileBackendUrl, removeTornSidecarsSaying } from "../release/stateBackend";

export interface ClusterStackOptions {
    engine: PulumiEngine;
    /** Stack name, e.g. "local". */
    stackName: string;
    /** Workspace directory: the stack's settings file `Pulumi.<stack>.yaml` (its config) is written here. */
    workDir: string;
    /** File backend directory (the state). */
    stateDir: string;
    /** PULUMI_HOME for the CLI, so `~/.pulumi` is left alone. */
    pulumiHome: string;
    /** Passphrase of the stack's secrets provider. */
    passphrase: string;
    /**
     * Version for the `migration-version` ConfigMap. Default: `physioflow:migrationTarget`, else "000"
     * (the real program records what the migration reports).
     */
    migrationVersion?: string;
    /** Where to say what opening the stack repaired (a metadata file a killed pulumi tore); default: nowhere. */
    out?: (line: string) => void;
}

/**
 * The cluster half of index.ts, as it runs there minus the database resources (the colors' login
 * roles are named as AppDatabase names them).
 */
export function clusterProgram(migrationVersion?: string): auto.PulumiFn {
    return async () => {
        const { settings, secrets } = loadStackConfig();
        const previous = await guardReleaseStep(settings, secrets.credentialDigests);
        const user = settings.database.user;
        return deployApps({
            settings,
            credentials: {
                blue: { user: loginRole(user, "blue"), password: secrets.colorDbPasswords.blue },
                green: { user: loginRole(user, "green"), password: secrets.colorDbPasswords.green },
            },
            credentialDigests: secrets.credentialDigests,
            colorSettings: settingsByColor(previous, settings),
            migrationVersion: migrationVersion ?? settings.migrationTarget ?? "000",
            previousActiveColor: previous?.activeColor,
        });
    };
}

/** Creates the stack (or selects it, when its state already exists) with the cluster half as its program. */
export async function openClusterStack(options: ClusterStackOptions): Promise<auto.Stack> {
    for (const dir of [options.workDir, options.stateDir, options.pulumiHome]) {
        fs.mkdirSync(dir, { recursive: true });
    }
    linkPlugins(options.engine, options.pulumiHome);
    // No metadata sidecars, and none left torn by a killed pulumi (release/stateBackend.ts).
    const backendUrl = fileBackendUrl(options.stateDir);
    removeTornSidecarsSaying(options.stateDir, options.out ?? (() => undefined));
    return auto.LocalWorkspace.createOrSelectStack(
        {
            stackName: options.stackName,
            projectName: "physioflow",
            program: clusterProgram(options.migrationVersion),
        },
        {
            workDir: options.workDir,
            pulumiHome: options.pulumiHome,
            pulumiCommand: options.engine.command,
            projectSettings: { name: "physioflow", runtime: "nodejs", backend: { url: backendUrl } },
            // TMPDIR: the provider's kubeconfig copies go to a directory removed with this process (devenv/engineTemp.ts).
            envVars: withEngineTemp({
                ...options.engine.env,
                PULUMI_BACKEND_URL: backendUrl,
                PULUMI_CONFIG_PASSPHRASE: options.passphrase,
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                PULUMI_SKIP_UPDATE_CHECK: "true",
            }),
        },
    );
}

/**
 * An ordinary install keeps its plugins in the user's PULUMI_HOME; a stack with its own
 * PULUMI_HOME sees them through a `plugins` symlink (plugins are only read: downloads are off).
 */
function linkPlugins(engine: PulumiEngine, pulumiHome: string): void {
    const link = path.join(pulumiHome, "plugins");
    let current: string | undefined;
    try {
        current = fs.readlinkSync(link);
    } catch {
        if (fs.existsSync(link)) return; // a real plugins directory: leave it
    }
    if (current === engine.pluginsDir) return;
    if (current !== undefined) fs.unlinkSync(link);
    if (engine.pluginsDir !== undefined) fs.symlinkSync(engine.pluginsDir, link);
}
