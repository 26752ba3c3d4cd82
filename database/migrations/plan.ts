import { UsageError } from "../errors";
import { MigrationFile, RollbackFile, VERSION_PATTERN, highestVersion } from "./files";
import { MigrationSet } from "./load";
import { AppliedMigration, headVersion } from "./validate";

/** Apply one up-migration. */
export interface UpStep {
    direction: "up";
    /** Version it brings the database to. */
    version: string;
    /** The file to run. */
    migration: MigrationFile;
}

/** Undo one applied migration with its down script. */
export interface DownStep {
    direction: "down";
    /** Version it removes. */
    version: string;
    /** Name recorded in schema_migrations (for messages). */
    name: string;
    /** The down script to run. */
    rollback: RollbackFile;
}

/** One step of a plan, in execution order. */
export type PlanStep = UpStep | DownStep;

/** Checks a version typed by a person (`--to 005`); returns it or throws a usage error. */
export function parseVersionArgument(value: string, option = "--to"): string {
    if (!VERSION_PATTERN.test(value)) {
        throw new UsageError(`${option} must be a three-digit migration number such as 005, got "${value}"`);
    }
    return value;
}

/**
 * Pending migrations up to `target` (default: the newest file), oldest first.
 * Assumes the set validated; throws a usage error for an impossible target.
 */
export function planUp(set: MigrationSet, applied: readonly AppliedMigration[], target?: string): UpStep[] {
    const head = headVersion(applied);
    const newest = highestVersion(set.migrations.map(m => m.version));
    const to = target ?? newest;
    if (target !== undefined) {
        if (target < head) {
            throw new UsageError(`--to ${target} is below the current version ${head}; use "migrate down --to ${target}" to go back`);
        }
        // 000 is either below the head (refused above) or the head itself.
        if (target !== head && !set.migrations.some(m => m.version === target)) {
            throw new UsageError(`--to ${target}: there is no migration ${target}_*.sql in ${set.dir} (newest is ${newest})`);
        }
    }
    const appliedVersions = new Set(applied.map(row => row.version));
    return set.migrations
        .filter(m => !appliedVersions.has(m.version) && m.version <= to)
        .map(migration => ({ direction: "up" as const, version: migration.version, migration }));
}

/**
 * Applied migrations above `target`, newest first, each with its down script.
 * `target` "000" undoes everything.
 */
export function planDown(set: MigrationSet, applied: readonly AppliedMigration[], target: string): DownStep[] {
    const head = headVersion(applied);
    if (target > head) {
        throw new UsageError(`--to ${target} is above the current version ${head}; use "migrate up --to ${target}" to go forward`);
    }
    return [...applied]
        .filter(row => row.version > target)
        .sort((a, b) => b.version.localeCompare(a.version))
        .map(row => {
            const rollback = set.rollbacks.find(r => r.version === row.version);
            if (!rollback) {
                throw new UsageError(`cannot go down past ${row.version}: ${set.dir}/rollback/${row.version}_down.sql is missing`);
            }
            return { direction: "down" as const, version: row.version, name: row.name ?? "", rollback };
        });
}

/** Version the database is at after `steps` run on top of `applied`. */
export function versionAfter(steps: readonly PlanStep[], applied: readonly AppliedMigration[]): string {
    const versions = new Set(applied.map(row => row.version));
    for (const step of steps) {
        if (step.direction === "up") {
            versions.add(step.version);
        } else {
            versions.delete(step.version);
        }
    }
    return highestVersion(versions);
}

/** One line per step, for `--dry-run` and progress. */
export function describeStep(step: PlanStep): string {
    if (step.direction === "up") {
        const mode = step.migration.directives.transactional ? "in a transaction" : "WITHOUT a transaction (no-transaction)";
        return `apply ${step.migration.path} ${mode}`;
    }
    const mode = step.rollback.directives.transactional ? "in a transaction" : "WITHOUT a transaction (no-transaction)";
    return `revert ${step.version} (${step.name || "unnamed"}) with ${step.rollback.path} ${mode}`;
}
