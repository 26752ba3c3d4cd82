import { Client, DatabaseError } from "pg";
import { performance } from "perf_hooks";
import { withClient } from "../client";
import { ConnectionSettings, describeConnection } from "../connection";
import { OperationError } from "../errors";
import { lintMigrationFiles } from "../lint/lintMigrations";
import { summarizeLintFailures } from "../lint/rules";
import { Progress, formatDuration, silentProgress } from "../progress";
import { SqlStatement, lineOfPosition, splitStatements } from "../sql/splitStatements";
import { BlockerWatch, describeBlockers } from "./blockers";
import { LOCK_TIMEOUT_DIRECTIVE, MigrationDirectives, STATEMENT_TIMEOUT_DIRECTIVE, highestVersion } from "./files";
import { deleteApplied, ensureHistoryTable, readApplied, recordApplied } from "./history";
import { MigrationSet, loadMigrationSet } from "./load";
import { acquireMigrationLock, releaseMigrationLock } from "./lock";
import { DownStep, PlanStep, UpStep, describeStep, planDown, planUp, versionAfter } from "./plan";
import { FileTimeouts, fileTimeouts, timeoutSettingsSql } from "./timeouts";
import { AppliedMigration, ValidationProblem, headVersion, validateMigrationSet } from "./validate";

/** Where the migrations are and which database to run them against. */
export interface MigrationOptions {
    /** Migrations directory; down scripts in `<dir>/rollback/` (the CLI's --dir, default "migrations"). */
    dir: string;
    /** Target database. */
    connection: ConnectionSettings;
    /** Progress lines (stderr in the CLI). Default: silent. */
    progress?: Progress;
    /** How long to wait for another runner's advisory lock, in ms. Default 60 000. */
    runnerWaitMs?: number;
    /**
     * PostgreSQL `lock_timeout` for each file's statements, in ms: a statement
     * that waits longer for a table lock fails its file (rolled back) instead of
     * queueing every later query on that table behind it. A file's
     * `-- physioflow:lock-timeout` header overrides it. Default 5 000.
     */
    lockTimeoutMs?: number;
}

/** Options of `migrate up`. */
export interface MigrateUpOptions extends MigrationOptions {
    /** Stop at this version (three digits). Default: the newest file. */
    to?: string;
    /** Show the plan and change nothing. */
    dryRun?: boolean;
    /** Refuse pending files that fail the blue-green lint. Default true. */
    lint?: boolean;
    /** Runs after the lock is held and the plan is known, before the first change (e.g. a backup). Not called for an empty plan or a dry run. */
    beforeChanges?: (plan: { from: string; to: string; steps: PlanStep[] }) => Promise<void>;
}

/** Options of `migrate down`. */
export interface MigrateDownOptions extends MigrationOptions {
    /** Version to go back to ("000" for none). */
    to: string;
    /** Show the plan and change nothing. */
    dryRun?: boolean;
    /** As for up. */
    beforeChanges?: MigrateUpOptions["beforeChanges"];
}

/** What `up`/`down` did (or, with dryRun, would do). */
export interface MigrateResult {
    /** Version before. */
    from: string;
    /** Version after. */
    to: string;
    /** Steps in execution order: the file run, a one-line description, and (when run) its duration in ms. */
    steps: { direction: "up" | "down"; version: string; path: string; description: string; executionMs?: number }[];
    /** True when nothing was changed on purpose. */
    dryRun: boolean;
}

/** One row of `migrate status`. */
export interface MigrationStatusRow {
    /** Three digits. */
    version: string;
    /** Description from the file name (or from schema_migrations when the file is gone). */
    name: string;
    /** applied; pending (file, no row); file-missing (row, no file); edited (checksum differs). */
    state: "applied" | "pending" | "file-missing" | "edited";
    /** The migration file, when it exists. */
    path?: string;
    /** When it was applied, for applied rows. */
    appliedAt?: Date | null;
    /** How long it took, for applied rows. */
    executionMs?: number | null;
}

/** Result of `migrate status`. */
export interface MigrationStatus {
    /** Applied head, or "000". */
    current: string;
    /** Newest migration file, or "000". */
    newest: string;
    rows: MigrationStatusRow[];
    /** Validation problems (status reports them, it does not refuse). */
    problems: ValidationProblem[];
}

/** A migration file failed; names the file, the statement's line and PostgreSQL's message. */
export class MigrationFailedError extends OperationError {
    constructor(
        message: string,
        readonly file: string,
        readonly line: number,
        readonly sqlState: string | undefined,
        cause: unknown,
    ) {
        super(message, { cause });
        this.name = "MigrationFailedError";
    }
}

/** Validation refused the migrations; `problems` holds every reason. */
export class MigrationValidationError extends OperationError {
    constructor(readonly problems: ValidationProblem[]) {
        super(`refused to migrate: ${problems.length} problem${problems.length === 1 ? "" : "s"}: ${problems.map(p => p.message).join("; ")}`);
        this.name = "MigrationValidationError";
    }
}

const APPLICATION_NAME = "physioflow-migrate";

/** Applies pending migrations (to `to`, default the newest), each in its own transaction with its history row. */
export async function migrateUp(options: MigrateUpOptions): Promise<MigrateResult> {
    const set = await loadMigrationSet(options.dir);
    return withMigrationSession(options, set, async (client, applied) => {
        const steps = planUp(set, applied, options.to);
        if (options.lint !== false) {
            await refuseBreaking(steps);
        }
        return execute(client, applied, steps, options);
    });
}

/** Runs down scripts newest first until the database is at `to`, deleting their history rows. */
export async function migrateDown(options: MigrateDownOptions): Promise<MigrateResult> {
    const set = await loadMigrationSet(options.dir);
    return withMigrationSession(options, set, async (client, applied) => execute(client, applied, planDown(set, applied, options.to), options));
}

/** Validates files against the database without changing anything; returns the problems (empty when fine). */
export async function checkMigrations(options: MigrationOptions): Promise<ValidationProblem[]> {
    const set = await loadMigrationSet(options.dir);
    return withClient(options.connection, APPLICATION_NAME, async client => validateMigrationSet(set, await readApplied(client)));
}

/** Applied, pending, edited and missing migrations, without changing anything. */
export async function migrationStatus(options: MigrationOptions): Promise<MigrationStatus> {
    const set = await loadMigrationSet(options.dir);
    const applied = await withClient(options.connection, APPLICATION_NAME, readApplied);
    const problems = validateMigrationSet(set, applied);
    const rows: MigrationStatusRow[] = [];
    const versions = [...new Set([...applied.map(a => a.version), ...set.migrations.map(m => m.version)])].sort();
    for (const version of versions) {
        const row = applied.find(a => a.version === version);
        const file = set.migrations.find(m => m.version === version);
        const state = !row ? "pending" : !file ? "file-missing" : row.checksum !== null && row.checksum !== file.checksum ? "edited" : "applied";
        rows.push({ version, name: file?.name ?? row?.name ?? "", state, path: file?.path, appliedAt: row?.appliedAt, executionMs: row?.executionMs });
    }
    const newest = highestVersion(set.migrations.map(m => m.version));
    return { current: headVersion(applied), newest, rows, problems };
}

/** The applied head ("000" when none), read without changing anything. */
export async function currentMigrationVersion(connection: ConnectionSettings): Promise<string> {
    return withClient(connection, APPLICATION_NAME, async client => headVersion(await readApplied(client)));
}

async function withMigrationSession(
    options: MigrationOptions & { dryRun?: boolean },
    set: MigrationSet,
    work: (client: Client, applied: AppliedMigration[]) => Promise<MigrateResult>,
): Promise<MigrateResult> {
    const progress = options.progress ?? silentProgress;
    return withClient(options.connection, APPLICATION_NAME, async client => {
        if (options.dryRun) {
            // A dry run takes no lock and creates nothing, not even schema_migrations.
            const applied = await readApplied(client);
            refuseInvalid(set, applied);
            return work(client, applied);
        }
        await acquireMigrationLock(client, { timeoutMs: options.runnerWaitMs ?? 60_000, progress });
        try {
            // Read and validate only while holding the lock, so no other runner changes the state underneath.
            const applied = await readApplied(client);
            refuseInvalid(set, applied);
            return await work(client, applied);
        } finally /* Stryker disable next-line BlockStatement: withClient ends the session next, which lets go of a session-level advisory lock too; released here so it never waits on the end */ {
            await releaseMigrationLock(client).catch(() => undefined);
        }
    });
}

function refuseInvalid(set: MigrationSet, applied: AppliedMigration[]): void {
    const problems = validateMigrationSet(set, applied);
    if (problems.length > 0) {
        throw new MigrationValidationError(problems);
    }
}

async function refuseBreaking(steps: UpStep[]): Promise<void> {
    const reports = await lintMigrationFiles(steps.map(s => s.migration));
    if (reports.some(r => !r.ok)) {
        throw new OperationError(
            `refused to migrate: breaks the color still serving traffic: ${summarizeLintFailures(reports)}; make it backward compatible (expand now, contract in a later release) or add "-- physioflow:allow-breaking <reason>" to its header`,
        );
    }
}

async function execute(
    client: Client,
    applied: AppliedMigration[],
    steps: PlanStep[],
    options: MigrationOptions & { dryRun?: boolean; beforeChanges?: MigrateUpOptions["beforeChanges"] },
): Promise<MigrateResult> {
    const progress = options.progress ?? silentProgress;
    const from = headVersion(applied);
    const to = versionAfter(steps, applied);
    const result: MigrateResult = {
        from,
        to,
        dryRun: Boolean(options.dryRun),
        steps: steps.map(step => ({
            direction: step.direction,
            version: step.version,
            path: step.direction === "up" ? step.migration.path : step.rollback.path,
            description: describeStep(step),
        })),
    };
    if (options.dryRun || steps.length === 0) {
        return result;
    }
    await options.beforeChanges?.({ from, to, steps });
    await ensureHistoryTable(client);
    progress.line(`migrate: ${describeConnection(options.connection)} at ${from}, ${steps.length} step${steps.length === 1 ? "" : "s"} to ${to}`);
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const watch = await BlockerWatch.open(options.connection, pid);
    try {
        for (const [index, step] of steps.entries()) {
            const started = performance.now();
            const directives = step.direction === "up" ? step.migration.directives : step.rollback.directives;
            const file: FileRun = {
                path: result.steps[index].path,
                version: step.version,
                directives,
                // The file's header, else the run's --lock-timeout, else DEFAULT_LOCK_TIMEOUT_MS.
                timeouts: fileTimeouts(directives, { lockTimeoutMs: options.lockTimeoutMs }),
                watch,
            };
            await client.query(timeoutSettingsSql(file.timeouts));
            if (step.direction === "up") {
                await runUp(client, step, file, started);
            } else {
                await runDown(client, step, file);
            }
            const elapsed = performance.now() - started;
            result.steps[index].executionMs = Math.round(elapsed);
            progress.line(`migrate: ${step.direction === "up" ? "applied" : "reverted"} ${result.steps[index].path} in ${formatDuration(elapsed)}`);
        }
    } finally {
        await watch.close();
    }
    return result;
}

/** One file being run: where, under which timeouts, watched for blockers. */
interface FileRun {
    path: string;
    version: string;
    directives: MigrationDirectives;
    timeouts: FileTimeouts;
    watch: BlockerWatch;
}

async function runUp(client: Client, step: UpStep, file: FileRun, started: number): Promise<void> {
    const { migration } = step;
    await inTransactionIf(client, migration.directives.transactional, migration.path, step.version, async () => {
        for (const statement of splitStatements(migration.sql)) {
            await runStatement(client, file, statement);
        }
        await recordApplied(client, migration, performance.now() - started);
    });
}

async function runDown(client: Client, step: DownStep, file: FileRun): Promise<void> {
    const { rollback } = step;
    await inTransactionIf(client, rollback.directives.transactional, rollback.path, step.version, async () => {
        for (const statement of splitStatements(rollback.sql)) {
            await runStatement(client, file, statement);
        }
        await deleteApplied(client, step.version);
    });
}

async function inTransactionIf(client: Client, transactional: boolean, file: string, version: string, work: () => Promise<void>): Promise<void> {
    if (!transactional) {
        await work();
        return;
    }
    await client.query("BEGIN");
    try {
        await work();
    } catch (error) {
        // Stryker disable next-line StringLiteral: the error ends the session (withClient), which rolls the transaction back too; rolled back here so nothing waits on the end
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
    }
    try {
        await client.query("COMMIT");
    } catch (error) {
        // A COMMIT that fails has already rolled the transaction back: the session is outside any transaction.
        throw new MigrationFailedError(
            `${file}: COMMIT failed: ${(error as Error).message}; rolled back, nothing from ${version} was applied`,
            file,
            0,
            (error as DatabaseError).code,
            error,
        );
    }
}

/** SQLSTATE of a statement cancelled by lock_timeout. */
const LOCK_NOT_AVAILABLE = "55P03";
/** SQLSTATE of a statement cancelled by statement_timeout (or a cancel request). */
const QUERY_CANCELED = "57014";

async function runStatement(client: Client, file: FileRun, statement: SqlStatement): Promise<void> {
    const { lockTimeoutMs } = file.timeouts;
    try {
        // Poll a few times within lock_timeout, so the blocker is seen while the wait lasts.
        await file.watch.during(Math.min(500, Math.max(20, Math.floor(lockTimeoutMs / 5))), () => client.query(statement.text));
    } catch (error) {
        const pgError = error as DatabaseError;
        const line = pgError.position ? lineOfPosition(statement, Number(pgError.position)) : statement.line;
        const consequence = file.directives.transactional
            ? `rolled back, nothing from ${file.version} was applied`
            : `ran without a transaction: ${file.version} is not recorded; an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index to drop before retrying`;
        if (pgError.code === LOCK_NOT_AVAILABLE) {
            throw new MigrationFailedError(
                `${file.path}:${line}: gave up after lock_timeout ${formatDuration(lockTimeoutMs)} waiting for ${describeBlockers(file.watch.lastSighting)}; ${consequence}; ` +
                    `retry once that session is done (or end it), or give the file more time with "-- physioflow:${LOCK_TIMEOUT_DIRECTIVE} 30s" (or --lock-timeout)`,
                file.path,
                line,
                pgError.code,
                error,
            );
        }
        const detail = pgError.detail ? ` (${pgError.detail})` : "";
        // Stryker disable next-line StringLiteral: every error the server sends has a SQLSTATE; only a connection lost without one (a crashed server) has none
        const code = pgError.code ? ` [SQLSTATE ${pgError.code}]` : "";
        const hint =
            pgError.code === QUERY_CANCELED && file.timeouts.statementTimeoutMs > 0
                ? `; the file's statement_timeout is ${formatDuration(file.timeouts.statementTimeoutMs)} ("-- physioflow:${STATEMENT_TIMEOUT_DIRECTIVE}")`
                : "";
        throw new MigrationFailedError(`${file.path}:${line}: ${pgError.message}${detail}${code}; ${consequence}${hint}`, file.path, line, pgError.code, error);
    }
}
