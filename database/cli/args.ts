import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { UsageError } from "../errors";
import { actionsOf, expectedGroups, sideOf } from "./commands";
import { parseVersionArgument } from "../migrations/plan";
import { checkEnvironmentName, checkLabel } from "../backup/archiveName";
import { BackupColorState, parseColorTags, parseImageTags } from "../backup/metadata";
import { DEFAULT_KEEP, checkKeep } from "../backup/retention";
import { DEFAULT_LOCK_TIMEOUT_MS, parseDurationMs } from "../migrations/timeouts";

/** Where `migrate down` and `backup restore` put their safety backups without `--backup-out`. */
export const DEFAULT_SAFETY_BACKUP_DIR = "backups";

/** Flags every command accepts. */
export interface GlobalFlags {
    /** Print stack traces on errors. */
    verbose: boolean;
    /** No progress lines on stderr. */
    quiet: boolean;
}

/** A parsed command line. */
export type Command = GlobalFlags &
    (
        | { command: "help"; topic?: "migrate" | "backup" }
        | { command: "migrate status" | "migrate validate" | "migrate lint" | "migrate version"; dir: string }
        | {
              command: "migrate up";
              dir: string;
              to?: string;
              dryRun: boolean;
              /** PostgreSQL lock_timeout per file (--lock-timeout, default 5s). */
              lockTimeoutMs: number;
              /** Wait for another runner's advisory lock (--runner-wait, default 60s). */
              runnerWaitMs: number;
              backupOut?: string;
              environment?: string;
              label?: string;
              tags?: Record<string, string>;
          }
        | {
              command: "migrate down";
              dir: string;
              to: string;
              dryRun: boolean;
              lockTimeoutMs: number;
              runnerWaitMs: number;
              /** Skip the typed confirmation (required without a terminal). */
              yes: boolean;
              /** Where the verified pre-down backup goes (default {@link DEFAULT_SAFETY_BACKUP_DIR}). */
              backupOut: string;
              environment?: string;
          }
        | {
              command: "backup create";
              outDir: string;
              environment: string;
              label: string;
              tags: Record<string, string>;
              /** `--colors blue=T,green=T --live COLOR`: both colors' tags and the live one, recorded in the archive. */
              colors?: BackupColorState;
              upload: boolean;
              keep: number;
          }
        | { command: "backup verify"; file: string }
        | {
              command: "backup restore";
              file: string;
              yes: boolean;
              /** The target's environment; required unless allowOtherEnvironment. */
              environment?: string;
              lockTimeoutMs: number;
              /** Restore an archive taken of a database with another name. */
              allowOtherDatabase: boolean;
              /** Restore an archive of another environment (or without --env). */
              allowOtherEnvironment: boolean;
              /** Where the safety backup of the target goes (default {@link DEFAULT_SAFETY_BACKUP_DIR}). */
              backupOut: string;
          }
        | { command: "backup prune"; dir: string; keep: number }
        | {
              command: "backup list";
              /** This machine's backup folder (--dir, else $HOME/physioflow-backups/<env>). */
              dir: string;
              /** Only this environment's archives; all when undefined. */
              environment?: string;
              /** Also the store's archives (S3_* in the environment). */
              remote: boolean;
          }
        | {
              command: "backup fetch";
              /** An archive's file name, `latest`, or `s3://bucket/key`. */
              archive: string;
              /** Where the archive goes (--dir, else $HOME/physioflow-backups/<env>). */
              dir: string;
              /** Whose archive `latest` means; any environment's when undefined. */
              environment?: string;
          }
    );

type OptionSpec = Record<string, { type: "string" | "boolean" }>;

const DIR: OptionSpec = { dir: { type: "string" } };
const LOCK: OptionSpec = { "lock-timeout": { type: "string" } };
const MIGRATE_WAITS: OptionSpec = { ...LOCK, "runner-wait": { type: "string" } };

/** Parses `physioflow <args>`; throws a {@link UsageError} (exit 2) for anything it does not understand. */
export function parseCommandLine(argv: readonly string[]): Command {
    const global = globalFlags(argv);
    const [group, action, ...rest] = argv.filter(arg => arg !== "--verbose" && arg !== "--quiet");
    if (group === undefined || group === "--help" || group === "-h" || group === "help") {
        return { command: "help", ...global };
    }
    if (sideOf(group) === undefined) {
        throw new UsageError(`unknown command "${group}"; expected ${expectedGroups()} (see physioflow --help)`);
    }
    if (group !== "migrate" && group !== "backup") {
        // bin/physioflow.js hands the release commands to release/cli.ts; only a direct call lands here.
        throw new UsageError(`"${group}" is a release command, run by release/cli.ts (bin/physioflow.js dispatches it)`);
    }
    if (action === undefined || action === "--help" || action === "-h" || action === "help") {
        return { command: "help", topic: group, ...global };
    }
    const known = actionsOf(group);
    if (!known.includes(action)) {
        throw new UsageError(`unknown command "${group} ${action}"; expected one of: ${known.map(k => `${group} ${k}`).join(", ")}`);
    }
    if (rest.includes("--help") || rest.includes("-h")) {
        return { command: "help", topic: group, ...global };
    }
    const name = `${group} ${action}`;
    switch (name) {
        case "migrate status":
        case "migrate validate":
        case "migrate lint":
        case "migrate version": {
            const { values } = parse(name, rest, DIR, 0);
            return { command: name, dir: values.dir ?? "migrations", ...global };
        }
        case "migrate up": {
            const { values } = parse(
                name,
                rest,
                {
                    ...DIR,
                    ...MIGRATE_WAITS,
                    to: { type: "string" },
                    "dry-run": { type: "boolean" },
                    "backup-out": { type: "string" },
                    env: { type: "string" },
                    label: { type: "string" },
                    tags: { type: "string" },
                },
                0,
            );
            return {
                command: name,
                dir: values.dir ?? "migrations",
                to: values.to === undefined ? undefined : parseVersionArgument(values.to),
                dryRun: Boolean(values["dry-run"]),
                ...migrateWaits(values),
                backupOut: values["backup-out"],
                environment: values.env === undefined ? undefined : checkEnvironmentName(values.env),
                label: values.label === undefined ? undefined : checkLabel(values.label),
                tags: values.tags === undefined ? undefined : parseImageTags(values.tags),
                ...global,
            };
        }
        case "migrate down": {
            const { values } = parse(
                name,
                rest,
                {
                    ...DIR,
                    ...MIGRATE_WAITS,
                    to: { type: "string" },
                    "dry-run": { type: "boolean" },
                    yes: { type: "boolean" },
                    "backup-out": { type: "string" },
                    env: { type: "string" },
                },
                0,
            );
            if (values.to === undefined) {
                throw new UsageError('migrate down needs --to NNN (the version to go back to, "000" for none)');
            }
            return {
                command: name,
                dir: values.dir ?? "migrations",
                to: parseVersionArgument(values.to),
                dryRun: Boolean(values["dry-run"]),
                ...migrateWaits(values),
                yes: Boolean(values.yes),
                backupOut: values["backup-out"] ?? DEFAULT_SAFETY_BACKUP_DIR,
                environment: values.env === undefined ? undefined : checkEnvironmentName(values.env),
                ...global,
            };
        }
        case "backup create": {
            const { values } = parse(
                name,
                rest,
                {
                    out: { type: "string" },
                    env: { type: "string" },
                    label: { type: "string" },
                    tags: { type: "string" },
                    colors: { type: "string" },
                    live: { type: "string" },
                    upload: { type: "boolean" },
                    keep: { type: "string" },
                },
                0,
            );
            if (values.out === undefined) {
                throw new UsageError("backup create needs --out DIR (where to write the archive)");
            }
            if ((values.colors === undefined) !== (values.live === undefined)) {
                throw new UsageError("--colors and --live go together: --colors blue=v1.2.2,green=v1.3.0 --live blue");
            }
            if (values.live !== undefined && values.live !== "blue" && values.live !== "green") {
                throw new UsageError(`--live must be blue or green, got "${values.live}"`);
            }
            return {
                command: name,
                outDir: values.out,
                environment: checkEnvironmentName(values.env ?? "local"),
                label: checkLabel(values.label ?? "manual"),
                tags: parseImageTags(values.tags ?? ""),
                ...(values.colors === undefined ? {} : { colors: { colors: parseColorTags(values.colors), live: values.live as "blue" | "green" } }),
                upload: Boolean(values.upload),
                keep: parseKeep(values.keep ?? String(DEFAULT_KEEP)),
                ...global,
            };
        }
        case "backup verify": {
            const { positionals } = parse(name, rest, {}, 1);
            return { command: name, file: positionals[0], ...global };
        }
        case "backup restore": {
            const { values, positionals } = parse(
                name,
                rest,
                {
                    ...LOCK,
                    yes: { type: "boolean" },
                    env: { type: "string" },
                    "allow-other-env": { type: "boolean" },
                    "allow-other-database": { type: "boolean" },
                    "backup-out": { type: "string" },
                },
                1,
            );
            if (values.env === undefined && !values["allow-other-env"]) {
                throw new UsageError(
                    "backup restore needs --env ENV (the target's environment, e.g. dev), so an archive of another environment is refused; --allow-other-env restores without that check",
                );
            }
            return {
                command: name,
                file: positionals[0],
                yes: Boolean(values.yes),
                environment: values.env === undefined ? undefined : checkEnvironmentName(values.env),
                lockTimeoutMs: parseDuration(values["lock-timeout"] ?? "60s", "--lock-timeout"),
                allowOtherDatabase: Boolean(values["allow-other-database"]),
                allowOtherEnvironment: Boolean(values["allow-other-env"]),
                backupOut: values["backup-out"] ?? DEFAULT_SAFETY_BACKUP_DIR,
                ...global,
            };
        }
        case "backup list": {
            const { values } = parse(name, rest, { dir: { type: "string" }, env: { type: "string" }, remote: { type: "boolean" } }, 0);
            const environment = values.env === undefined ? undefined : checkEnvironmentName(values.env);
            return { command: name, dir: backupFolder(name, values.dir, environment), environment, remote: Boolean(values.remote), ...global };
        }
        case "backup fetch": {
            const { values, positionals } = parse(name, rest, { dir: { type: "string" }, env: { type: "string" } }, 1);
            const environment = values.env === undefined ? undefined : checkEnvironmentName(values.env);
            return { command: name, archive: positionals[0], dir: backupFolder(name, values.dir, environment), environment, ...global };
        }
        case "backup prune": {
            const { values } = parse(name, rest, { dir: { type: "string" }, keep: { type: "string" } }, 0);
            if (values.dir === undefined || values.keep === undefined) {
                throw new UsageError("backup prune needs --dir DIR and --keep N");
            }
            return { command: name, dir: values.dir, keep: parseKeep(values.keep), ...global };
        }
    }
    throw new UsageError(`unknown command "${name}"`);
}

/** `--dir`, else the stack's default folder for `--env` ($HOME/physioflow-backups/<env>); one of them is needed. */
function backupFolder(name: string, dir: string | undefined, environment: string | undefined): string {
    if (dir !== undefined) return dir;
    if (environment === undefined) throw new UsageError(`${name} needs --env ENV (its folder is $HOME/physioflow-backups/<env>) or --dir DIR`);
    return path.join(os.homedir(), "physioflow-backups", environment);
}

/** --verbose and --quiet, accepted anywhere on the command line. */
export function globalFlags(argv: readonly string[]): GlobalFlags {
    return { verbose: argv.includes("--verbose"), quiet: argv.includes("--quiet") };
}

/** "30s", "2m", "500ms" or plain seconds ("30") → milliseconds. */
export function parseDuration(text: string, option: string): number {
    const ms = parseDurationMs(text);
    if (ms === undefined) {
        throw new UsageError(`${option} must be a duration such as 30s, 2m or 500ms, got "${text}"`);
    }
    return ms;
}

/** --lock-timeout (PostgreSQL lock_timeout per file, above zero) and --runner-wait (another runner's advisory lock). */
function migrateWaits(values: Record<string, string | undefined>): { lockTimeoutMs: number; runnerWaitMs: number } {
    const lockTimeoutMs = parseDuration(values["lock-timeout"] ?? `${DEFAULT_LOCK_TIMEOUT_MS}ms`, "--lock-timeout");
    if (lockTimeoutMs === 0) {
        throw new UsageError("--lock-timeout must be above zero: a migration must never wait for a table lock without limit");
    }
    return { lockTimeoutMs, runnerWaitMs: parseDuration(values["runner-wait"] ?? "60s", "--runner-wait") };
}

function parseKeep(text: string): number {
    if (!/^\d+$/.test(text)) {
        throw new UsageError(`--keep must be a whole number of at least 1, got "${text}"`);
    }
    return checkKeep(Number(text));
}

function parse(
    name: string,
    args: readonly string[],
    options: OptionSpec,
    positionalCount: number,
): { values: Record<string, string | undefined>; positionals: string[] } {
    let parsed: ReturnType<typeof parseArgs>;
    try {
        parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    } catch (error) {
        const reason = (error as Error).message.split("\n")[0].replace(/\. To specify a positional argument.*$/, "");
        throw new UsageError(`${name}: ${reason} (see physioflow ${name.split(" ")[0]} --help)`);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (parsed.positionals.length !== positionalCount) {
        const expected = positionalCount === 0 ? "no arguments" : "one FILE argument";
        throw new UsageError(
            parsed.positionals.length < positionalCount
                ? `${name} needs a FILE argument`
                : `${name} takes ${expected}, got unexpected "${parsed.positionals.slice(positionalCount).join(" ")}"`,
        );
    }
    return {
        values: values as Record<string, string | undefined>,
        positionals: parsed.positionals,
    };
}
