import { promises as fs } from "fs";
import * as path from "path";
import { UsageError } from "../errors";
import { MigrationFile, RollbackFile, migrationChecksum, parseDirectives, parseMigrationFileName, parseRollbackFileName } from "./files";

/** Everything found in a migrations directory, including what is wrong with it. */
export interface MigrationSet {
    /** The directory as given, e.g. "migrations". */
    dir: string;
    /** Up-migrations with well-formed names, sorted by version then path. */
    migrations: MigrationFile[];
    /** Down scripts with well-formed names, sorted by version then path. */
    rollbacks: RollbackFile[];
    /** `.sql` files whose names do not follow the conventions (paths). */
    malformedMigrations: string[];
    /** `.sql` files in rollback/ whose names are not `NNN_down.sql` (paths). */
    malformedRollbacks: string[];
    /** Directive problems per path. */
    directiveProblems: { path: string; problems: string[] }[];
}

/** Rollback scripts live here, relative to the migrations directory. */
export const ROLLBACK_SUBDIR = "rollback";

/** Reads `dir/*.sql` and `dir/rollback/*.sql`. A missing `dir` is a usage error. */
export async function loadMigrationSet(dir: string): Promise<MigrationSet> {
    const entries = await readSqlFileNames(dir);
    if (entries === undefined) {
        throw new UsageError(`migrations directory not found: ${dir} (use --dir DIR)`);
    }
    const rollbackDir = path.join(dir, ROLLBACK_SUBDIR);
    const rollbackEntries = (await readSqlFileNames(rollbackDir)) ?? [];
    const set: MigrationSet = {
        dir,
        migrations: [],
        rollbacks: [],
        malformedMigrations: [],
        malformedRollbacks: [],
        directiveProblems: [],
    };

    for (const fileName of entries) {
        const filePath = path.join(dir, fileName);
        const parsed = parseMigrationFileName(fileName);
        if (!parsed) {
            set.malformedMigrations.push(filePath);
            continue;
        }
        const sql = await fs.readFile(filePath, "utf8");
        const { directives, problems } = parseDirectives(sql);
        if (problems.length > 0) {
            set.directiveProblems.push({ path: filePath, problems });
        }
        set.migrations.push({ ...parsed, path: filePath, sql, checksum: migrationChecksum(sql), directives });
    }
    for (const fileName of rollbackEntries) {
        const filePath = path.join(rollbackDir, fileName);
        const version = parseRollbackFileName(fileName);
        if (!version) {
            set.malformedRollbacks.push(filePath);
            continue;
        }
        const sql = await fs.readFile(filePath, "utf8");
        const { directives, problems } = parseDirectives(sql);
        if (problems.length > 0) {
            set.directiveProblems.push({ path: filePath, problems });
        }
        set.rollbacks.push({ version, path: filePath, sql, directives });
    }
    // The names come sorted, so the versions are already in order; the paths' locale order puts
    // `002_a` before `002_B` (two files of one version, an error validation reports in this order).
    const byVersion = (a: { version: string; path: string }, b: { version: string; path: string }) =>
        // Stryker disable next-line ConditionalExpression: comparing the paths alone gives the same order (one folder, NNN_ prefixes); kept to say what is meant
        a.version.localeCompare(b.version) || a.path.localeCompare(b.path);
    set.migrations.sort(byVersion);
    // Stryker disable next-line MethodExpression: rollback names are all NNN_down.sql, whose sorted order (readSqlFileNames) is already this one; kept so the order never depends on it
    set.rollbacks.sort(byVersion);
    return set;
}

async function readSqlFileNames(dir: string): Promise<string[] | undefined> {
    let entries: import("fs").Dirent[];
    try {
        entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") {
            return undefined;
        }
        throw error;
    }
    const names = entries.filter(entry => entry.isFile() && entry.name.toLowerCase().endsWith(".sql")).map(entry => entry.name);
    // Stryker disable next-line MethodExpression: Node's readdir already returns names sorted (libuv's scandir sorts by strcmp); kept so the order never depends on it
    return names.sort();
}
