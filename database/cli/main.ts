import * as readline from "readline";
import { inspect } from "util";
import { Readable, Writable } from "stream";
import type { RestoreSummary } from "../backup/restore";
import { connectionFromEnv } from "../connection";
import { OperationError, UsageError, exitCodeOf, messageOnOneLine } from "../errors";
import { describeStep } from "../migrations/plan";
import type { MigrateResult } from "../migrations/runner";
import { Progress, formatDuration, silentProgress } from "../progress";
import { Command, globalFlags, parseCommandLine } from "./args";
import { BACKUP_HELP, MAIN_HELP, MIGRATE_HELP } from "./help";

/** Where the CLI reads and writes; process streams by default, replaceable in tests. */
export interface CliIo {
    stdout: Writable;
    stderr: Writable;
    stdin: Readable & { isTTY?: boolean };
    env: NodeJS.ProcessEnv;
}

/**
 * Runs `physioflow <argv>` and returns the exit code: 0 success, 1 refused or
 * failed, 2 bad input. Errors are one line on stderr ("physioflow: error: ...");
 * the stack only with --verbose.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
    const print = (line = "") => io.stdout.write(`${line}\n`);
    try {
        const command = parseCommandLine(argv);
        const progress: Progress = command.quiet ? silentProgress : { line: text => io.stderr.write(`${text}\n`) };
        await run(command, io, print, progress);
        return 0;
    } catch (error) {
        io.stderr.write(`physioflow: error: ${messageOnOneLine(error)}\n`);
        if (globalFlags(argv).verbose) {
            io.stderr.write(`${stackOf(error)}\n`);
        }
        return exitCodeOf(error);
    }
}

async function run(command: Command, io: CliIo, print: (line?: string) => void, progress: Progress): Promise<void> {
    // Implementations load lazily: --help and bad input answer without loading pg, tar or the S3 client.
    const runner = () => import("../migrations/runner");
    switch (command.command) {
        case "help":
            io.stdout.write(command.topic === "migrate" ? MIGRATE_HELP : command.topic === "backup" ? BACKUP_HELP : MAIN_HELP);
            return;
        case "migrate version":
            print(await (await runner()).currentMigrationVersion(connectionFromEnv(io.env)));
            return;
        case "migrate status": {
            const status = await (await runner()).migrationStatus({ dir: command.dir, connection: connectionFromEnv(io.env) });
            print(`current ${status.current}, newest file ${status.newest}`);
            for (const row of status.rows) {
                const when = row.appliedAt ? ` ${row.appliedAt.toISOString()}` : "";
                const took = row.executionMs !== undefined && row.executionMs !== null ? ` (${formatDuration(row.executionMs)})` : "";
                print(`${row.version}  ${row.state.padEnd(12)} ${row.path ?? row.name}${when}${took}`);
            }
            for (const problem of status.problems) {
                print(`problem: ${problem.message}`);
            }
            return;
        }
        case "migrate validate": {
            const problems = await (await runner()).checkMigrations({ dir: command.dir, connection: connectionFromEnv(io.env) });
            if (problems.length > 0) {
                problems.forEach(p => print(`refused: ${p.message}`));
                throw new (await runner()).MigrationValidationError(problems);
            }
            print(`ok: ${command.dir} is valid against the database`);
            return;
        }
        case "migrate lint": {
            const { loadMigrationSet } = await import("../migrations/load");
            const { lintMigrationFiles } = await import("../lint/lintMigrations");
            const { formatLintReport, summarizeLintFailures } = await import("../lint/rules");
            const set = await loadMigrationSet(command.dir);
            const reports = await lintMigrationFiles(set.migrations);
            formatLintReport(reports).forEach(line => print(line));
            if (reports.some(r => !r.ok)) {
                throw new OperationError(
                    `lint failed: ${summarizeLintFailures(reports)}; make it backward compatible or add "-- physioflow:allow-breaking <reason>"`,
                );
            }
            return;
        }
        case "migrate up": {
            const connection = connectionFromEnv(io.env);
            const result = await (
                await runner()
            ).migrateUp({
                dir: command.dir,
                connection,
                to: command.to,
                dryRun: command.dryRun,
                lockTimeoutMs: command.lockTimeoutMs,
                runnerWaitMs: command.runnerWaitMs,
                progress,
                beforeChanges: command.backupOut
                    ? async ({ to }) => {
                          const { createBackup } = await import("../backup/create");
                          const backup = await createBackup({
                              connection,
                              outDir: command.backupOut!,
                              environment: command.environment,
                              label: command.label ?? `pre-migrate-${to}`,
                              imageTags: command.tags,
                              progress,
                          });
                          print(`backup ${backup.archivePath}`);
                      }
                    : undefined,
            });
            printResult(result, print);
            return;
        }
        case "migrate down": {
            if (!command.dryRun && !command.yes && !io.stdin.isTTY) {
                throw new UsageError(
                    `migrate down runs down scripts that may drop data and there is no terminal to confirm; re-run with --yes (or --dry-run to see the plan)`,
                );
            }
            const connection = connectionFromEnv(io.env);
            const result = await (
                await runner()
            ).migrateDown({
                dir: command.dir,
                connection,
                to: command.to,
                dryRun: command.dryRun,
                lockTimeoutMs: command.lockTimeoutMs,
                runnerWaitMs: command.runnerWaitMs,
                progress,
                // Runs with the migration lock held and the plan known, before the first down script.
                beforeChanges: async ({ from, to, steps }) => {
                    if (!command.yes) {
                        const plan = steps.map(step => `  ${describeStep(step)}\n`).join("");
                        const typed = await askToType(
                            io,
                            `About to take ${connection.database} from migration ${from} back to ${to}:\n${plan}` +
                                `Down scripts may drop columns and tables with their data; a verified backup goes to ${command.backupOut} first. ` +
                                `Type the database name (${connection.database}) to continue: `,
                            connection.database,
                        );
                        if (!typed) {
                            throw new OperationError("migrate down cancelled; nothing was changed");
                        }
                    }
                    const { createBackup } = await import("../backup/create");
                    const backup = await createBackup({
                        connection,
                        outDir: command.backupOut,
                        environment: command.environment,
                        label: `pre-down-${to}`,
                        progress,
                    });
                    print(`backup ${backup.archivePath}`);
                },
            });
            printResult(result, print);
            return;
        }
        case "backup create": {
            const { createBackup } = await import("../backup/create");
            const { s3SettingsFromEnv } = await import("../backup/s3");
            const backup = await createBackup({
                connection: connectionFromEnv(io.env),
                outDir: command.outDir,
                environment: command.environment,
                label: command.label,
                // --tags wins for image_tags; without it, --colors records the live color's tag there too.
                imageTags: Object.keys(command.tags).length > 0 || command.colors === undefined ? command.tags : undefined,
                colors: command.colors,
                keep: command.keep,
                upload: command.upload ? s3SettingsFromEnv(io.env) : undefined,
                progress,
            });
            if (backup.uploaded) {
                print(`uploaded s3://${backup.uploaded.bucket}/${backup.uploaded.key}`);
            }
            print(backup.archivePath);
            return;
        }
        case "backup verify": {
            const { verifyBackup } = await import("../backup/verify");
            const report = await verifyBackup(command.file, progress);
            const m = report.metadata;
            print(
                `ok ${command.file}: ${m.environment}/${m.database} "${m.label}" taken ${m.created_at}, migration ${m.migration_version}, ${report.tocEntries} TOC entries, sha256 ${m.dump_sha256}`,
            );
            return;
        }
        case "backup restore": {
            if (!command.yes && !io.stdin.isTTY) {
                throw new UsageError(`restore replaces the database entirely and there is no terminal to confirm; re-run with --yes`);
            }
            const { restoreBackup } = await import("../backup/restore");
            const report = await restoreBackup({
                archivePath: command.file,
                connection: connectionFromEnv(io.env),
                expectEnvironment: command.environment,
                allowOtherEnvironment: command.allowOtherEnvironment,
                allowOtherDatabase: command.allowOtherDatabase,
                safetyBackup: { outDir: command.backupOut, environment: command.environment },
                lockTimeoutMs: command.lockTimeoutMs,
                keptBy: "physioflow backup restore",
                progress,
                confirm: summary => confirmRestore(summary, command.yes, io),
            });
            print(`safety backup ${report.safetyBackupPath}`);
            print(
                `restored ${report.database} from ${report.archivePath}: migration ${report.previousVersion} -> ${report.migrationVersion}, ${report.tables} tables`,
            );
            return;
        }
        case "backup list": {
            const { formatArchiveList, listLocalArchives, listStoredArchives } = await import("../backup/store");
            const local = await listLocalArchives(command.dir, command.environment);
            const stored = command.remote
                ? await listStoredArchives((await import("../backup/s3")).s3SettingsFromEnv(io.env, "--remote"), command.environment)
                : [];
            if (local.length + stored.length === 0) {
                progress.line(
                    `backup: no archives${command.environment === undefined ? "" : ` of ${command.environment}`} in ${command.dir}${command.remote ? " or the store" : ""}`,
                );
                return;
            }
            formatArchiveList([...local, ...stored]).forEach(line => print(line));
            return;
        }
        case "backup fetch": {
            const { fetchStoredArchive, resolveStoredArchive } = await import("../backup/store");
            const { s3SettingsFromEnv } = await import("../backup/s3");
            const { settings, key } = await resolveStoredArchive(s3SettingsFromEnv(io.env, "backup fetch"), command.archive, command.environment);
            const fetched = await fetchStoredArchive(settings, key, command.dir, progress);
            print(fetched.archivePath);
            return;
        }
        case "backup prune": {
            const { pruneBackups } = await import("../backup/retention");
            const deleted = await pruneBackups(command.dir, command.keep, progress);
            deleted.forEach(file => print(`pruned ${file}`));
            return;
        }
    }
}

function printResult(result: MigrateResult, print: (line?: string) => void): void {
    if (result.steps.length === 0) {
        print(`nothing to do: database is at ${result.from}`);
        return;
    }
    for (const step of result.steps) {
        print(result.dryRun ? `would ${step.description}` : `${step.direction === "up" ? "applied" : "reverted"} ${step.path} (${step.executionMs} ms)`);
    }
    print(result.dryRun ? `dry run: nothing changed; would go from ${result.from} to ${result.to}` : `database is now at ${result.to} (was ${result.from})`);
}

async function confirmRestore(summary: RestoreSummary, yes: boolean, io: CliIo): Promise<boolean> {
    if (yes) {
        return true;
    }
    if (!io.stdin.isTTY) {
        throw new UsageError(`restore replaces ${summary.database} entirely and there is no terminal to confirm; re-run with --yes`);
    }
    const m = summary.metadata;
    return askToType(
        io,
        `About to restore ${summary.archivePath}\n` +
            `  archive: ${m.environment}/${m.database} "${m.label}" taken ${m.created_at}, migration ${m.migration_version}\n` +
            `  target:  ${summary.target} (now at migration ${summary.currentVersion})\n` +
            `Every table in the target's restored schemas is replaced (a verified safety backup goes to ${summary.safetyBackupDir} first). ` +
            `Type the database name (${summary.database}) to continue: `,
        summary.database,
    );
}

/** Writes `prompt` on stderr and reads one line from stdin; true when it is `expected`. */
async function askToType(io: CliIo, prompt: string, expected: string): Promise<boolean> {
    io.stderr.write(prompt);
    const rl = readline.createInterface({ input: io.stdin, terminal: false });
    const answer = await new Promise<string>(resolve => rl.once("line", resolve).once("close", () => resolve("")));
    rl.close();
    return answer.trim() === expected;
}

function processIo(): CliIo {
    return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

function stackOf(error: unknown): string {
    const parts: string[] = [];
    let current: unknown = error;
    while (current) {
        // A thrown non-Error (an object, a string) is shown as it is, not as "[object Object]".
        parts.push(current instanceof Error ? (current.stack ?? current.message) : inspect(current));
        current = (current as { cause?: unknown }).cause;
        if (current) {
            parts.push("caused by:");
        }
    }
    return parts.join("\n");
}
