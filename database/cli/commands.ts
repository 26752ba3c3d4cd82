/**
 * Every `physioflow` command, once: its words, its arguments, a one-line summary and which side runs
 * it (the database CLI, database/cli/main.ts, or the release code, release/cli.ts). bin/physioflow.js
 * dispatches by it, `physioflow --help` lists it, the release commands' usage lines and the
 * "unknown command" error are made from it. It lives with the database CLI because release/ may
 * import database/ and not the other way round.
 */

/** Which code runs a command: database/cli/main.ts or release/cli.ts. */
export type CommandSide = "database" | "release";

export interface PhysioflowCommand {
    /** The words after `physioflow`: "migrate up", "deploy". */
    name: string;
    /** Its arguments and options as the help shows them after the name ("" for none). */
    usage: string;
    /** What it does, in one line. */
    summary: string;
    side: CommandSide;
}

export const physioflowCommands: readonly PhysioflowCommand[] = [
    { name: "migrate status", usage: "", summary: "applied, pending, edited and missing migrations", side: "database" },
    { name: "migrate validate", usage: "", summary: "refuse-before-running checks, without running anything", side: "database" },
    {
        name: "migrate up",
        usage: "[--to NNN] [--dry-run] [--backup-out DIR]",
        summary: "apply pending migrations (each in its own transaction)",
        side: "database",
    },
    {
        name: "migrate down",
        usage: "--to NNN [--dry-run] [--yes] [--backup-out DIR]",
        summary: 'confirm, back up, then run down scripts newest first back to NNN ("000" for none)',
        side: "database",
    },
    { name: "migrate lint", usage: "", summary: "blue-green backward-compatibility lint of up-migrations", side: "database" },
    { name: "migrate version", usage: "", summary: "print the applied version (e.g. 005, or 000 for none)", side: "database" },
    {
        name: "backup create",
        usage: "--out DIR [--env ENV] [--label L] [--tags api=v1,web=v1] [--colors blue=v1,green=v2 --live blue] [--upload] [--keep N]",
        summary: "pg_dump to DIR/<env>_<label>_<YYYYMMDD>_<HHMMSS>.tar.gz (path on stdout)",
        side: "database",
    },
    { name: "backup verify", usage: "FILE", summary: "re-check sha256, pg_restore --list and the migration version", side: "database" },
    {
        name: "backup restore",
        usage: "FILE --env ENV [--yes] [--backup-out DIR]",
        summary: "verify, check database and environment, confirm, back up the target, then restore",
        side: "database",
    },
    { name: "backup prune", usage: "--dir DIR --keep N", summary: "keep the newest N archives per environment", side: "database" },
    {
        name: "backup list",
        usage: "--env ENV | --dir DIR [--remote]",
        summary: "archives here and (--remote) in the store, newest first: env, label, migration, tags, size, where",
        side: "database",
    },
    {
        name: "backup fetch",
        usage: "NAME|latest|s3://BUCKET/KEY --env ENV | --dir DIR",
        summary: "download a stored archive, verify it, keep it (0600); nothing is kept when it fails",
        side: "database",
    },
    {
        name: "deploy",
        usage: "<stack> <tag> [--watch 5m] [--keep-warm] [--commit] [--yes] [--json]",
        summary: "release a tag blue-green as previewed stack updates",
        side: "release",
    },
    {
        name: "rollback",
        usage: "<stack> [--emergency | --restore FILE|latest|s3://BUCKET/KEY [--color blue|green]] [--yes] [--json]",
        summary: "switch the live Services to the other color, with a database restore when asked",
        side: "release",
    },
    { name: "status", usage: "<stack> [--json]", summary: "the stack beside its cluster, disagreements flagged", side: "release" },
    {
        name: "sync",
        usage: "<stack> [--check]",
        summary: "write the live release (the stack's last update, the cluster) into the stack file",
        side: "release",
    },
    { name: "verify", usage: "<stack> [--json]", summary: "the runbook's post-deployment checks", side: "release" },
    {
        name: "import",
        usage: "<stack> [--yes]",
        summary: "a stack's first up over the existing namespace, database and role",
        side: "release",
    },
];

/** The first words of the commands, in the list's order: migrate, backup, deploy, ... */
export const commandGroups: readonly string[] = [...new Set(physioflowCommands.map(command => command.name.split(" ")[0]))];

/** Which side runs `physioflow <group> ...`; undefined for a word that is no command. */
export function sideOf(group: string | undefined): CommandSide | undefined {
    return physioflowCommands.find(command => command.name.split(" ")[0] === group)?.side;
}

/** The second words of a group's commands: `migrate` has status, validate, up, down, lint, version. */
export function actionsOf(group: string): string[] {
    return physioflowCommands.filter(command => command.name.startsWith(`${group} `)).map(command => command.name.slice(group.length + 1));
}

/** `physioflow <name> <usage>`, a command's usage line. */
export function usageLine(name: string): string {
    const command = physioflowCommands.find(c => c.name === name);
    if (command === undefined) throw new Error(`no physioflow command "${name}" in database/cli/commands.ts`);
    return `physioflow ${command.name}${command.usage ? ` ${command.usage}` : ""}`;
}

/** The "Commands:" lines of `physioflow --help`: each command and its summary, aligned. */
export function commandListText(): string {
    const column = 33;
    return physioflowCommands
        .map(command => {
            const left = `  ${usageLine(command.name).slice("physioflow ".length)}`;
            return left.length < column ? `${left.padEnd(column)}${command.summary}` : `${left}\n${" ".repeat(column)}${command.summary}`;
        })
        .join("\n");
}

/** The "unknown command" error's list of what exists: "migrate", "backup", ... or "import". */
export function expectedGroups(): string {
    const quoted = commandGroups.map(group => `"${group}"`);
    return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}
