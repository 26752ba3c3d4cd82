import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { NO_VERSION, parseMigrationFileName } from "../database/migrations/files";

/** The newest `NNN` among migration file names (the CLI's naming rule), or `000` when there are none. */
export function newestMigrationVersion(fileNames: readonly string[]): string {
    const versions = fileNames.map(f => parseMigrationFileName(f)?.version).filter((v): v is string => v !== undefined);
    return versions.length === 0 ? NO_VERSION : versions.sort().slice(-1)[0];
}

/** The migration version a stack should be at: the configured target, else the newest file in `dir`. */
export function resolveMigrationTarget(configured: string | undefined, dir: string): string {
    if (configured !== undefined) return configured;
    // Stryker disable next-line ArrayDeclaration: a name that is not NNN_*.sql is ignored, so [] and any other non-migration name both give 000
    return newestMigrationVersion(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
}

/**
 * One hash over every `.sql` file in `dir` and `dir/rollback` (names and contents), so a preview
 * shows the migrate step whenever a migration file was added or edited.
 */
export function migrationsChecksum(dir: string): string {
    const hash = crypto.createHash("sha256");
    for (const sub of [".", "rollback"]) {
        const folder = path.join(dir, sub);
        if (!fs.existsSync(folder)) continue;
        // Stryker disable next-line MethodExpression: Node's readdirSync already returns names sorted (libuv's scandir sorts by strcmp), the same order for ASCII names; kept so the hash never depends on it
        for (const file of fs
            .readdirSync(folder)
            .filter(f => f.endsWith(".sql"))
            .sort()) {
            hash.update(`${sub}/${file}\0`)
                .update(fs.readFileSync(path.join(folder, file)))
                .update("\0");
        }
    }
    return hash.digest("hex");
}
