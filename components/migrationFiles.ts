import * as fs from "fs";

const migrationFile = /^(\d{3})_[A-Za-z0-9_-]+\.sql$/;

/** The newest `NNN` among migration file names, or `000` when there are none. */
export function newestMigrationVersion(fileNames: readonly string[]): string {
    const versions = fileNames.map(f => migrationFile.exec(f)?.[1]).filter((v): v is string => v !== undefined);
    return versions.length === 0 ? "000" : versions.sort().slice(-1)[0];
}

/** The migration version a stack should be at: the configured target, else the newest file in `dir`. */
export function resolveMigrationTarget(configured: string | undefined, dir: string): string {
    if (configured !== undefined) return configured;
    return newestMigrationVersion(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
}
