import * as path from "path";
import { splitStatements } from "../sql/splitStatements";
import { LOCK_TIMEOUT_DIRECTIVE, NO_VERSION, MigrationFile, RollbackFile, STATEMENT_TIMEOUT_DIRECTIVE, highestVersion } from "./files";
import { MigrationSet, ROLLBACK_SUBDIR } from "./load";

/** A row of `schema_migrations`. */
export interface AppliedMigration {
    /** Three digits. */
    version: string;
    /** Description from the file name when it was applied. */
    name: string | null;
    /** Checksum of the file when it was applied; null for rows written by older tools. */
    checksum: string | null;
    /** When it was applied. */
    appliedAt: Date | null;
    /** How long it took, in milliseconds. */
    executionMs: number | null;
}

/** One reason to refuse to run; `message` starts with the file it is about. */
export interface ValidationProblem {
    /** The file (or directory) the problem is about. */
    path: string;
    /** What is wrong and how to fix it, starting with the path. */
    message: string;
}

const TRANSACTION_CONTROL = /^(begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction)\b/i;
/** The runner sets these before every file; a file changing them would escape the header that documents them. */
const TIMEOUT_SETTING = /^set\s+(?:(?:local|session)\s+)?(lock_timeout|statement_timeout)\b/i;
/** Statements PostgreSQL refuses to run inside a transaction block. */
const OUTSIDE_TRANSACTION_ONLY =
    /^(create\s+(unique\s+)?index\s+concurrently|drop\s+index\s+concurrently|reindex\b[\s\S]*\bconcurrently\b|vacuum\b|create\s+database|drop\s+database|alter\s+system|create\s+tablespace|drop\s+tablespace|alter\s+table\b[\s\S]*\bdetach\s+partition\b[\s\S]*\bconcurrently\b)/i;

/**
 * Everything that must hold before any migration runs. Pass `applied` as read
 * from `schema_migrations` (empty when the table does not exist yet).
 */
export function validateMigrationSet(set: MigrationSet, applied: readonly AppliedMigration[]): ValidationProblem[] {
    const problems: ValidationProblem[] = [];
    const add = (filePath: string, message: string) => problems.push({ path: filePath, message: `${filePath}: ${message}` });

    for (const filePath of set.malformedMigrations) {
        add(filePath, "file name must be NNN_description.sql (three digits, an underscore, a description), e.g. 001_initial_schema.sql");
    }
    for (const filePath of set.malformedRollbacks) {
        add(filePath, "rollback file name must be NNN_down.sql, e.g. 005_down.sql");
    }
    for (const { path: filePath, problems: directiveProblems } of set.directiveProblems) {
        for (const problem of directiveProblems) {
            add(filePath, problem);
        }
    }

    const migrationsByVersion = groupByVersion(set.migrations);
    const rollbacksByVersion = groupByVersion(set.rollbacks);
    for (const [version, files] of migrationsByVersion) {
        if (files.length > 1) {
            for (const file of files) {
                add(
                    file.path,
                    `duplicate migration number ${version} (also ${files
                        .filter(f => f !== file)
                        .map(f => f.path)
                        .join(", ")}); renumber one of them`,
                );
            }
        }
        if (version === NO_VERSION) {
            for (const file of files) {
                add(file.path, "migration numbers start at 001 (000 means no migration applied)");
            }
        }
    }
    for (const migration of set.migrations) {
        if (!rollbacksByVersion.has(migration.version)) {
            add(migration.path, `has no down script; add ${path.join(set.dir, ROLLBACK_SUBDIR, `${migration.version}_down.sql`)}`);
        }
        checkStatements(migration, add);
    }
    for (const rollback of set.rollbacks) {
        if (!migrationsByVersion.has(rollback.version) && !applied.some(row => row.version === rollback.version)) {
            add(rollback.path, `down script for ${rollback.version}, but there is no migration ${rollback.version}_*.sql`);
        }
        checkStatements(rollback, add);
    }

    const head = headVersion(applied);
    for (const row of applied) {
        const files = migrationsByVersion.get(row.version);
        if (!files) {
            add(
                path.join(set.dir, `${row.version}_${row.name ?? "*"}.sql`),
                `migration ${row.version} is applied to the database but its file is gone; restore the file (git history) before migrating`,
            );
            continue;
        }
        for (const file of files) {
            if (row.checksum !== null && row.checksum !== file.checksum) {
                add(
                    file.path,
                    `was edited after it was applied (checksum ${short(file.checksum)} != applied ${short(row.checksum)}); revert the edit and put the change in a new migration`,
                );
            }
        }
    }
    const appliedVersions = new Set(applied.map(row => row.version));
    for (const migration of set.migrations) {
        if (!appliedVersions.has(migration.version) && migration.version < head) {
            add(migration.path, `is pending but older than the applied head ${head}; renumber it above ${lastVersion(set.migrations, head)}`);
        }
    }
    return problems.sort((a, b) => a.path.localeCompare(b.path) || a.message.localeCompare(b.message));
}

/** Highest applied version, or "000". */
export function headVersion(applied: readonly AppliedMigration[]): string {
    return highestVersion(applied.map(row => row.version));
}

function checkStatements(file: MigrationFile | RollbackFile, add: (filePath: string, message: string) => void): void {
    const statements = splitStatements(file.sql);
    if (statements.length === 0) {
        add(file.path, "contains no SQL statement");
        return;
    }
    for (const statement of statements) {
        if (file.directives.transactional && OUTSIDE_TRANSACTION_ONLY.test(statement.text)) {
            add(
                file.path,
                `line ${statement.line}: this statement cannot run inside a transaction; put it alone in a file whose first line is "-- physioflow:no-transaction"`,
            );
        }
        const timeout = TIMEOUT_SETTING.exec(statement.text);
        if (timeout) {
            const directive = timeout[1].toLowerCase() === "lock_timeout" ? LOCK_TIMEOUT_DIRECTIVE : STATEMENT_TIMEOUT_DIRECTIVE;
            add(
                file.path,
                `line ${statement.line}: remove "SET ${timeout[1]}"; the runner sets it before every file: put "-- physioflow:${directive} <duration>" in the header instead`,
            );
        }
        if (TRANSACTION_CONTROL.test(statement.text)) {
            add(
                file.path,
                `line ${statement.line}: remove "${statement.text.split(/\s/, 1)[0]}"; the runner wraps each file in its own transaction (use -- physioflow:no-transaction to run without one)`,
            );
        }
    }
    if (!file.directives.transactional && statements.length > 1) {
        add(
            file.path,
            `is marked no-transaction but has ${statements.length} statements; put each non-transactional statement in its own migration so a failure cannot leave it half-applied`,
        );
    }
}

function groupByVersion<T extends { version: string }>(files: readonly T[]): Map<string, T[]> {
    const map = new Map<string, T[]>();
    for (const file of files) {
        map.set(file.version, [...(map.get(file.version) ?? []), file]);
    }
    return map;
}

function lastVersion(migrations: readonly MigrationFile[], head: string): string {
    return highestVersion(
        migrations.map(m => m.version),
        head,
    );
}

function short(checksum: string): string {
    return checksum.slice(0, 12);
}
