/**
 * `physioflow deploy`: the release commands of the CLI, over the project's own stacks (Automation
 * API). `local` is the stack `npm run local` keeps in `.local/` (its control plane is started for
 * the command and stopped after); dev, staging and prod are the project's stacks, run with the
 * Pulumi CLI and plugins installed as for `pulumi up` and the stack's kubeconfig.
 */
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { Readable, Writable } from "stream";
import { kubectlCommand } from "../devenv/kubectl";
import { Color, isColor } from "../components/colors";
import { commandGroups, sideOf, usageLine } from "../database/cli/commands";
import { UsageError } from "../database/errors";
import { describeLive, readLiveColor } from "./clusterState";
import { deploy } from "./deploy";
import { DeployResult, OpenedReleaseTarget, OpenLocalTarget, ReleaseTarget } from "./types";
import type { RollbackResult } from "./rollback";
import { formatVerify, verify, VerifyResult } from "./verify";
import type { RestoreArchive } from "../database/backup/store";
import { releaseDatabaseFromConfig } from "./releaseDatabase";
import { stackConfigFrom, stackSecret } from "./stackConfig";
import { selectRepairedStack } from "./stateBackend";
import { shownPath, stackFilePath } from "./checkout";
import { checkCommittable, commitStackFile } from "./stackFileCommit";

export interface ReleaseIo {
    stdout: Writable;
    stderr: Writable;
    stdin: Readable & { isTTY?: boolean };
    /** The repository: where Pulumi.yaml, the stack files and `.local/` are. */
    repoRoot: string;
    /** Opens the `local` stack; the commands on `local` need it (bin/physioflow.js passes local/releaseTarget.ts's). */
    openLocalTarget?: OpenLocalTarget;
}

/** The commands this file runs (bin/physioflow.js hands them here), from the one list in database/cli/commands.ts. */
export const releaseCommands = commandGroups.filter(group => sideOf(group) === "release");

export const IMPORT_HELP = `usage: ${usageLine("import")}

A stack's first pulumi up over what the team already runs (docs/operations.md, "Taking over
a cluster set up by hand"): adopts the existing namespace, database and owner role (dbUser), and
the runbook's Deployments, Services and migration-version ConfigMap it finds, as they are (no pod
restarted), instead of creating them; creates the rest and says what it leaves alone (the old
physioflow-secrets). Refused once the stack has resources, or when a live Service selects another
color than activeColor. Prints the plan and the preview first, then asks for the stack's name to be
typed unless --yes. Afterwards it shows what the next pulumi up changes: which Deployments' pods
it replaces, the labels, the owner's password. <stack>: local, dev, staging or prod.`;

/** \`physioflow import <stack>\`; exit 0 when adopted, 1 when it failed or was refused, 2 on bad input. */
export async function importCommand(argv: readonly string[], io: ReleaseIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${IMPORT_HELP}\n`);
        return 0;
    }
    const stackName = oneStackArg(argv, "import", ["--yes"]);
    checkStackName(stackName);
    if (!argv.includes("--yes") && !io.stdin.isTTY) throw new UsageError("import needs a confirmation and there is no terminal; re-run with --yes");
    const out = (line: string) => io.stderr.write(`${line}\n`);
    const opened = await openReleaseTarget(stackName, io, out);
    const { importExisting } = await import("./importExisting");
    try {
        const result = await importExisting(opened.target, {
            out,
            confirm: argv.includes("--yes")
                ? undefined
                : () => confirm(io, `Adopt these objects into ${stackName} and create the rest? Type ${stackName} to continue: `, stackName, "import"),
        });
        if (!result.ok) out(`import failed: ${result.error}`);
        return result.ok ? 0 : 1;
    } finally {
        await opened.close();
    }
}

export const STATUS_HELP = `usage: ${usageLine("status")}

The stack's settings and last outputs beside what its cluster does: active color and tags,
each Deployment's ready/desired pods, what the live Services select and serve, the smoke tests,
the migration version (database, ConfigMap and stack output), the last backup, where backups are
stored (flagged when they stay on one machine without backupLocalOnly) and any deploy in progress.
Lines starting with ! disagree, and alarms (an automatic rollback that failed) show as ! until
the next successful deploy or rollback of the stack; the exit code is then 1.
<stack>: local, dev, staging or prod.`;

/** \`physioflow status ...\`; exit 0 when everything agrees, 1 when a line is flagged. */
export async function statusCommand(argv: readonly string[], io: ReleaseIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${STATUS_HELP}\n`);
        return 0;
    }
    const stackName = oneStackArg(argv, "status", ["--json"]);
    checkStackName(stackName);
    const opened = await openReleaseTarget(stackName, io, line => io.stderr.write(`${line}\n`));
    const { formatStatus, readStatus } = await import("./status");
    try {
        const status = await readStatus(opened.target);
        const lines = formatStatus(status);
        io.stdout.write(argv.includes("--json") ? `${JSON.stringify({ ...status, lines }, null, 2)}\n` : `${lines.join("\n")}\n`);
        return lines.some(line => line.startsWith("!")) ? 1 : 0;
    } finally {
        await opened.close();
    }
}

export const ROLLBACK_HELP = `usage: ${usageLine("rollback")}

Switches the live Services to the other color, keeping the current one warm. A color with no
ready pods is first brought up through the stack (readiness and smoke test), never switched to
cold. <stack>: local, dev, staging or prod.

  --emergency     no confirmation and no waiting for a running deploy; everything through the
                  API first: a cold color scaled, its pods awaited ready and its smoke test run
                  from a one-off Job (scaled back, nothing switched, if that fails), the live
                  Services patched (as fast as kubectl patch); then the stack's activeColor is
                  set and reconciled, so the next pulumi preview shows no changes
  --restore FILE  application and database (the runbook's scenario 2): verify the archive,
                  back up the database as it is, take the API off the database, restore in one
                  transaction (its migration version checked against the archive's), then switch
                  to the color running the tag that was live when the archive was taken (its
                  metadata's colors and live); refused, naming --color, when the archive records
                  no tag or neither color runs it; prunes no archive; on every way out (done,
                  failed, timed out, SIGINT/SIGTERM) the API gets its replicas back; asks for the
                  stack's name to be typed unless --yes
  --restore latest
                  the same with the stack's newest backup, in its backupDir or its store (a stored one
                  is downloaded into backupDir and verified first; physioflow backup list --remote
                  shows them)
  --restore s3://BUCKET/KEY
                  the same with that archive of the stack's store, downloaded and verified first; a
                  download that fails or does not verify leaves nothing and restores nothing
  --color C       with --restore: bring back color C (blue or green) instead of the archive's
  --yes           no confirmation`;

export const DEPLOY_HELP = `usage: ${usageLine("deploy")}

Releases <tag> as stack updates, each previewed before it is applied: the tag to the inactive
color (warm, behind its smoke test), the switch of the live Services, a watch of the new color
(unready pods, restarts, or an error rate above errorRateThreshold from the stack's
prometheusUrl switch back by themselves and scale the broken color down), then the old color
to its inactive replicas. One deploy at a time per namespace. Refused before any change when the stack file
disagrees with the stack's last update or the live Services (an older checkout: physioflow
sync). <stack>: local, dev, staging or prod.

  --watch D     how long to watch after the switch (e.g. 90s, 5m); default 5m
  --keep-warm   leave the old color at full replicas
  --commit      after a good deploy, git commit the stack file (that file only, never pushed),
                so the next checkout and the up-dev workflow see the release; refused before
                anything changes when the stack file is not in a git checkout
  --yes         no confirmation (prod asks for one; without a terminal it refuses)
  --json        print the result as JSON on stdout

Exit 0: the tag is live; 1: a step failed or the watch rolled back; 2: bad input; 3: the watch
saw a breach and the automatic rollback FAILED (act now: the alarm is in physioflow status).
Each failure names the live color as read back from the cluster.`;

/** The stacks the release commands work on. */
const stackNames = ["local", "dev", "staging", "prod"];

/**
 * The one stack of `physioflow <command> <stack> [flags]`: an option not in `flags`, and no stack
 * or more than one, refused in one line naming the command's help.
 */
function oneStackArg(argv: readonly string[], command: string, flags: readonly string[]): string {
    for (const flag of argv.filter(arg => arg.startsWith("-"))) {
        if (!flags.includes(flag)) throw new UsageError(`unknown option ${flag}; see physioflow ${command} --help`);
    }
    const positional = argv.filter(arg => !arg.startsWith("-"));
    if (positional.length !== 1) throw new UsageError(`${command} needs a stack: physioflow ${command} <stack>`);
    return positional[0];
}

function checkStackName(name: string): void {
    if (!stackNames.includes(name)) throw new UsageError(`unknown stack "${name}"; stacks: ${stackNames.join(", ")}`);
}

export interface DeployArgs {
    stack: string;
    tag: string;
    watchSeconds: number;
    keepWarm: boolean;
    /** git commit the stack file after a good deploy. */
    commit: boolean;
    yes: boolean;
    json: boolean;
}

/** Parses `deploy` arguments; throws {@link UsageError} with one line. */
export function parseDeployArgs(argv: readonly string[]): DeployArgs {
    const positional: string[] = [];
    const args = { watchSeconds: 300, keepWarm: false, commit: false, yes: false, json: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--keep-warm") args.keepWarm = true;
        else if (arg === "--yes") args.yes = true;
        else if (arg === "--json") args.json = true;
        else if (arg === "--commit") args.commit = true;
        else if (arg === "--watch" || arg.startsWith("--watch=")) {
            const value = arg === "--watch" ? argv[++i] : arg.slice("--watch=".length);
            if (value === undefined) throw new UsageError("--watch needs a duration, e.g. --watch 5m");
            args.watchSeconds = parseWatch(value);
        } else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}; see physioflow deploy --help`);
        else positional.push(arg);
    }
    if (positional.length !== 2) throw new UsageError("deploy needs a stack and a tag: physioflow deploy <stack> <tag>");
    const [stack, tag] = positional;
    checkStackName(stack);
    return { stack, tag, ...args };
}

function parseWatch(text: string): number {
    const match = /^(\d+)(s|m)$/.exec(text);
    if (!match || Number(match[1]) === 0) throw new UsageError(`--watch "${text}" is not a duration like 90s or 5m`);
    return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

/**
 * The exit codes of `physioflow deploy` from its result: 0 the tag is live, 1 a step failed or
 * the watch rolled back, 3 the automatic rollback after a breach failed (2, bad input, is
 * releaseMain's). Pure.
 */
export function deployExitCode(result: DeployResult): number {
    if (result.ok) return 0;
    return result.rollbackFailed ? 3 : 1;
}

/** The summary `physioflow deploy` prints after its steps: a line per step, then the verdict with the live color read back. Pure. */
export function deploySummary(result: DeployResult, stackName: string): string[] {
    const lines = result.steps.map(step => `${step.step.padEnd(8)} ${step.seconds.toFixed(1).padStart(6)} s  ${step.result}`);
    const live = result.live === undefined ? "live color unknown (not read back)" : describeLive(result.live);
    if (result.ok) lines.push(result.live?.color === result.to ? `${result.tag} is live on ${result.to}` : `${result.tag} deployed to ${result.to}; ${live}`);
    else if (result.rollbackFailed) {
        lines.push(
            `the alarm stays in physioflow status ${stackName} until a deploy or rollback succeeds; to finish the rollback: physioflow rollback ${stackName} --emergency`,
            `automatic rollback FAILED, act now: ${result.rollbackFailed.error}; ${live} (the watch's breach: ${result.rollbackFailed.breach})`,
        );
    } else if (result.rolledBack) lines.push(`rolled back: ${result.rolledBack.reason}; ${live}`);
    else lines.push(`${result.error}; ${live}`);
    return lines;
}

/** `physioflow deploy ...`; returns the exit code ({@link deployExitCode}; 2 on bad input). */
export async function deployCommand(argv: readonly string[], io: ReleaseIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${DEPLOY_HELP}\n`);
        return 0;
    }
    const args = parseDeployArgs(argv);
    if (args.stack === "prod" && !args.yes && !(await confirm(io, `Deploy ${args.tag} to prod? Type prod to continue: `, "prod"))) {
        throw new UsageError("deploy to prod not confirmed; nothing changed");
    }
    const out = (line: string) => io.stderr.write(`${line}\n`);
    const opened = await openReleaseTarget(args.stack, io, out);
    let result: DeployResult;
    let stackFile: string | undefined;
    try {
        if (args.commit) {
            stackFile = stackFilePath(opened.target.stack);
            await checkCommittable(stackFile);
        }
        result = await deploy(opened.target, args.tag, { watch: { seconds: args.watchSeconds }, keepWarm: args.keepWarm, out });
    } finally {
        await opened.close();
    }
    if (args.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    out("");
    deploySummary(result, args.stack).forEach(out);
    if (result.ok && stackFile !== undefined) {
        const message = `${args.stack}: ${args.tag} live on ${result.to} (physioflow deploy)`;
        try {
            const commit = await commitStackFile(stackFile, message);
            out(
                commit === undefined
                    ? `${shownPath(stackFile)}: no change to commit`
                    : `committed ${shownPath(stackFile)} as ${commit}: ${message} (not pushed)`,
            );
        } catch (error) {
            out(
                `${args.tag} is live, but the stack file was not committed: ${(error as Error).message.split("\n")[0]}; commit ${shownPath(stackFile)} yourself`,
            );
            return 1;
        }
    }
    return deployExitCode(result);
}

export const SYNC_HELP = `usage: ${usageLine("sync")}

Writes the stack's live release into the stack file (Pulumi.<stack>.yaml; for local, .local's):
activeColor, blueTag, greenTag and inactiveWarm from the stack's last update (and a change a
command wrote and has not applied yet), the active color from the live Services when they were
moved outside the stack (kubectl patch). Prints each setting changed (old -> new); changes nothing
when they agree. Every release command refuses a stack file that disagrees; this is the fix
(or pull the latest checkout). <stack>: local, dev, staging or prod.

  --check   compare only: exit 1 with the one-line disagreement, 0 when they agree
            (the up-dev workflow runs it before its pulumi up)`;

/** \`physioflow sync <stack> [--check]\`; exit 0 when the file agrees or was written, 1 when --check found a disagreement or it failed, 2 on bad input. */
export async function syncCommand(argv: readonly string[], io: ReleaseIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${SYNC_HELP}\n`);
        return 0;
    }
    const stackName = oneStackArg(argv, "sync", ["--check"]);
    checkStackName(stackName);
    const out = (line: string) => io.stderr.write(`${line}\n`);
    const opened = await openReleaseTarget(stackName, io, out);
    const { syncCheckout } = await import("./sync");
    try {
        const check = argv.includes("--check");
        const result = await syncCheckout(opened.target, { check, out: line => io.stdout.write(`${line}\n`) });
        if (check && result.disagreement !== undefined) {
            out(result.disagreement);
            return 1;
        }
        return 0;
    } finally {
        await opened.close();
    }
}

async function confirm(io: ReleaseIo, question: string, expected: string, what = "deploy to prod"): Promise<boolean> {
    if (!io.stdin.isTTY)
        throw new UsageError(`${what === "rollback" ? "rollback of prod" : what} needs a confirmation and there is no terminal; re-run with --yes`);
    io.stderr.write(question);
    const rl = readline.createInterface({ input: io.stdin, terminal: false });
    const answer = await new Promise<string>(resolve => rl.once("line", resolve).once("close", () => resolve("")));
    rl.close();
    return answer.trim() === expected;
}

/** The stack and its cluster, for the release code; `close()` stops what was started for it. */
async function openReleaseTarget(stackName: string, io: ReleaseIo, out: (line: string) => void): Promise<OpenedReleaseTarget> {
    const repoRoot = io.repoRoot;
    if (stackName === "local") {
        // A caller's mistake, not the user's: every entry point passes one.
        if (io.openLocalTarget === undefined)
            throw new Error("the local stack cannot be opened: releaseMain was given no openLocalTarget (bin/physioflow.js passes local/releaseTarget.ts's)");
        return io.openLocalTarget(repoRoot, out);
    }
    const stack = await selectRepairedStack(stackName, { workDir: repoRoot }, out);
    // One read of the config (a CLI run that decrypts the secrets: 0.6 s of CPU), for the settings and the secrets.
    const config = await stack.getAllConfig();
    // The program's own reading of the stack's settings: its defaults, its one-line refusals.
    const settings = stackConfigFrom(config);
    const { kubeconfig, context } = settings.kubernetes;
    const kubectl = kubectlCommand({ kubeconfig, context });
    if (!fs.existsSync(path.join(repoRoot, "Pulumi.yaml"))) throw new UsageError(`${repoRoot} has no Pulumi.yaml; run physioflow deploy from the repository`);
    // The stack's update backs up and migrates (DatabaseRelease); the commands only read and lint.
    const database = releaseDatabaseFromConfig(settings, key => stackSecret(config, key), repoRoot, { migratesOutsideStack: false });
    return { target: { stack, kubectl, namespace: settings.namespace, database }, close: async () => undefined };
}

/** `physioflow rollback ...`; returns the exit code (0 switched, 1 failed, 2 bad input). */
export async function rollbackCommand(argv: readonly string[], io: ReleaseIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${ROLLBACK_HELP}\n`);
        return 0;
    }
    const flags = new Set<string>();
    const positional: string[] = [];
    let restore: string | undefined;
    let color: Color | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--restore" || arg.startsWith("--restore=")) {
            restore = arg === "--restore" ? argv[++i] : arg.slice("--restore=".length);
            if (!restore) throw new UsageError("--restore needs a backup archive: --restore FILE, latest or s3://bucket/key");
        } else if (arg === "--color" || arg.startsWith("--color=")) {
            const value = arg === "--color" ? argv[++i] : arg.slice("--color=".length);
            if (!isColor(value ?? "")) throw new UsageError(`--color must be blue or green, got "${value ?? ""}"`);
            color = value as Color;
        } else if (["--emergency", "--yes", "--json"].includes(arg)) flags.add(arg);
        else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}; see physioflow rollback --help`);
        else positional.push(arg);
    }
    if (positional.length !== 1) throw new UsageError("rollback needs a stack: physioflow rollback <stack>");
    const stackName = positional[0];
    checkStackName(stackName);
    const emergency = flags.has("--emergency");
    if (color !== undefined && restore === undefined) throw new UsageError("--color goes with --restore FILE: the color to bring back with the archive");
    // `latest` and `s3://…` are resolved (and fetched, verified) once the stack's settings are read, before the confirmation.
    const fromStore = restore !== undefined && isStoredArchiveSpec(restore);
    if (restore !== undefined) {
        if (emergency)
            throw new UsageError(
                "--restore and --emergency do not go together: a restore takes the API off the database; roll back with --emergency first, then restore",
            );
        if (!fromStore) {
            restore = path.resolve(restore);
            if (!fs.existsSync(restore)) throw new UsageError(`${restore}: no such backup archive (or use --restore latest, --restore s3://bucket/key)`);
            await confirmRestore(io, stackName, restore, flags.has("--yes"));
        }
    } else if (
        stackName === "prod" &&
        !emergency &&
        !flags.has("--yes") &&
        !(await confirm(io, "Switch prod's live Services to the other color? Type prod to continue: ", "prod", "rollback"))
    ) {
        throw new UsageError("rollback of prod not confirmed; nothing changed");
    }
    const out = (line: string) => io.stderr.write(`${line}\n`);
    const opened = await openReleaseTarget(stackName, io, out);
    let result;
    try {
        if (restore !== undefined) {
            let ifArchiveDamaged: string | undefined;
            if (fromStore) {
                ({ archivePath: restore, ifDamaged: ifArchiveDamaged } = await restoreArchiveFromStore(opened.target, restore, out));
                await confirmRestore(io, stackName, restore, flags.has("--yes"));
            }
            const { restoreRollback } = await import("./restoreRollback");
            result = await restoreRollback(opened.target, restore, { out, color, ifArchiveDamaged });
        } else {
            const { rollback } = await import("./rollback");
            result = await rollback(opened.target, { emergency, out });
        }
        result.live ??= await readLiveColor(opened.target.kubectl, opened.target.namespace);
    } finally {
        await opened.close();
    }
    if (flags.has("--json")) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    out(rollbackSummary(result));
    return result.ok ? 0 : 1;
}

/** The line `physioflow rollback` ends with (any form: normal, --emergency, --restore), with the live color read back. Pure. */
export function rollbackSummary(result: RollbackResult): string {
    const live = result.live === undefined ? "live color unknown (not read back)" : describeLive(result.live);
    if (!result.ok) return `rollback failed: ${result.error}; ${live}`;
    const patched = result.patchMs !== undefined ? ` (Services patched in ${result.patchMs} ms)` : "";
    return `${result.live?.color === result.to ? `${result.to} is live` : `rolled back to ${result.to}; ${live}`}${patched}`;
}

/** `--restore latest` or `--restore s3://bucket/key`: an archive to find (and fetch) through the stack's backup folder and store. */
export function isStoredArchiveSpec(spec: string): boolean {
    return spec === "latest" || spec.startsWith("s3://");
}

/**
 * The archive `--restore latest|s3://…` names, as a verified file in the stack's backup folder (fetched
 * from its store when it is not already there; with `latest`, what to add should it not verify: the
 * next newest archive); throws, restoring nothing, when it cannot be had.
 */
export async function restoreArchiveFromStore(target: ReleaseTarget, spec: string, out: (line: string) => void): Promise<RestoreArchive> {
    const db = target.database;
    if (db === undefined) throw new UsageError(`--restore ${spec} needs the stack's database settings (dbHost, dbName, dbUser, the dbPassword secret)`);
    const { resolveRestoreArchive } = await import("../database/backup/store");
    const archive = await resolveRestoreArchive(spec, { dir: db.backupDir, environment: db.environment, store: db.backupStore }, { line: out });
    out(`restore: ${archive.archivePath}`);
    return archive;
}

/** A restore replaces the stack's data, on every stack: a typed confirmation or --yes. */
async function confirmRestore(io: ReleaseIo, stackName: string, archive: string, yes: boolean): Promise<void> {
    if (
        !yes &&
        !(await confirm(
            io,
            `Replace ${stackName}'s database with ${path.basename(archive)} and switch colors? Type ${stackName} to continue: `,
            stackName,
            "rollback --restore",
        ))
    ) {
        throw new UsageError(`rollback --restore of ${stackName} not confirmed; nothing changed`);
    }
}

export const VERIFY_HELP = `usage: ${usageLine("verify")}

The runbook's post-deployment checks, one line each: the active color's pods ready (and the
inactive color's when it is warm); the stack's smokeChecks through the live Services, and the
preview Services when the inactive color has pods, run from a one-off Job in the cluster (deleted
after); the migration version of the database, the ConfigMap migration-version and the stack's
output agreeing; the exact row counts of the main tables (a missing table fails). Lines starting
with ! failed; the exit code is then 1. <stack>: local, dev, staging or prod.

  --json   print the result as JSON on stdout`;

/** Opens a stack and its cluster for a command; `close()` stops what was started for it. */
export type OpenReleaseTarget = (stackName: string, out: (line: string) => void) => Promise<{ target: ReleaseTarget; close(): Promise<void> }>;

/** `physioflow verify ...`; exit 0 when every check passed, 1 otherwise; bad input throws {@link UsageError}. */
export async function verifyCommand(argv: readonly string[], io: ReleaseIo, open: OpenReleaseTarget): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.stdout.write(`${VERIFY_HELP}\n`);
        return 0;
    }
    const stackName = oneStackArg(argv, "verify", ["--json"]);
    const out = (line: string) => io.stderr.write(`${line}\n`);
    const opened = await open(stackName, out);
    let result: VerifyResult;
    try {
        result = await verify(opened.target, { out });
    } finally {
        await opened.close();
    }
    const lines = formatVerify(result);
    io.stdout.write(argv.includes("--json") ? `${JSON.stringify({ ...result, lines }, null, 2)}\n` : `${lines.join("\n")}\n`);
    return result.ok ? 0 : 1;
}

/** `physioflow <release command> ...` ({@link releaseCommands}) as the bin script runs it: one line on stderr for errors, the exit code returned. */
export async function releaseMain(argv: readonly string[], repoRoot: string, io: Partial<ReleaseIo> = {}): Promise<number> {
    const full: ReleaseIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, repoRoot, ...io };
    try {
        if (argv[0] === "status") return await statusCommand(argv.slice(1), full);
        if (argv[0] === "import") return await importCommand(argv.slice(1), full);
        if (argv[0] === "verify") {
            return await verifyCommand(argv.slice(1), full, (stackName, out) => {
                checkStackName(stackName);
                return openReleaseTarget(stackName, full, out);
            });
        }
        if (argv[0] === "rollback") return await rollbackCommand(argv.slice(1), full);
        if (argv[0] === "deploy") return await deployCommand(argv.slice(1), full);
        if (argv[0] === "sync") return await syncCommand(argv.slice(1), full);
        throw new UsageError(`"${argv[0] ?? ""}" is not a release command; release commands: ${releaseCommands.join(", ")} (see physioflow --help)`);
    } catch (error) {
        full.stderr.write(`physioflow: error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
        return error instanceof UsageError ? 2 : 1;
    }
}
