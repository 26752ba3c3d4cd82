// Command lines the stack runs through @pulumi/command. Every value in them is validated config
// (tags, versions, environment names, a checked path), never a secret: secrets go in `environment`.
import type { Color } from "./colors";

/** How the stack invokes the PhysioFlow CLI, relative to the project root Pulumi runs in. */
export const defaultCli = "node bin/physioflow.js";

export interface BackupCommandArgs {
    cli: string;
    /** Archive folder; may start with `$HOME`, which the shell expands. */
    backupDir: string;
    environment: string;
    /** Archive label, e.g. `pre-migrate-015`. */
    label: string;
    /** Upload the verified archive to the S3 store named by `S3_*` in the environment. */
    upload: boolean;
    /** Both colors' image tags, recorded in the archive (`--colors`) so a restore knows which color runs its schema. */
    colorTags: Record<Color, string>;
    /** The color serving while the backup is taken (`--live`). */
    activeColor: Color;
}

/** `backup create`: prints the archive's path as its last stdout line. */
export function backupCommand(args: BackupCommandArgs): string {
    const upload = args.upload ? " --upload" : "";
    const colors = `--colors blue=${args.colorTags.blue},green=${args.colorTags.green} --live ${args.activeColor}`;
    return `${args.cli} backup create --out "${args.backupDir}" --env ${args.environment} --label ${args.label} ${colors}${upload}`;
}

/** `migrate up --to NNN`, then the applied version alone on the last stdout line. */
export function migrateCommand(cli: string, dir: string, target: string): string {
    return `${cli} migrate up --dir ${dir} --to ${target} && ${cli} migrate version --dir ${dir}`;
}

/**
 * The backup's `update` command: what a change of credentials or backup settings alone runs
 * instead of a new backup (only the migration target or files trigger one). It prints the newest
 * archive of this label already in the folder, so the stack's `lastBackup` output stays true.
 * Archive names sort by time: `<env>_<label>_<YYYYMMDD>_<HHMMSS>.tar.gz`.
 */
export function latestBackupCommand(args: { backupDir: string; environment: string; label: string }): string {
    return `ls -1 "${args.backupDir}"/${args.environment}_${args.label}_????????_??????.tar.gz 2>/dev/null | sort | tail -n 1`;
}

/**
 * The migration's `update` command: `migrate version` alone, which applies nothing and prints the
 * applied version (so a password rotation proves the new password and changes no schema).
 */
export function migrateVersionCommand(cli: string, dir: string): string {
    return `${cli} migrate version --dir ${dir}`;
}

/** The last non-empty line of a command's stdout. */
export function lastLine(stdout: string): string {
    const lines = stdout
        .split("\n")
        .map(l => l.trim())
        .filter(l => l !== "");
    return lines.length === 0 ? "" : lines[lines.length - 1];
}
