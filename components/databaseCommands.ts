// Command lines the stack runs through @pulumi/command. Every value in them is validated config
// (tags, versions, environment names, a checked path), never a secret: secrets go in `environment`.

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
}

/** `backup create`: prints the archive's path as its last stdout line. */
export function backupCommand(args: BackupCommandArgs): string {
    const upload = args.upload ? " --upload" : "";
    return `${args.cli} backup create --out "${args.backupDir}" --env ${args.environment} --label ${args.label}${upload}`;
}

/** `migrate up --to NNN`, then the applied version alone on the last stdout line. */
export function migrateCommand(cli: string, dir: string, target: string): string {
    return `${cli} migrate up --dir ${dir} --to ${target} && ${cli} migrate version --dir ${dir}`;
}

/** The last non-empty line of a command's stdout. */
export function lastLine(stdout: string): string {
    const lines = stdout.split("\n").map(l => l.trim()).filter(l => l !== "");
    return lines.length === 0 ? "" : lines[lines.length - 1];
}
