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
 * One hash over the `.sql` files in `dir` and `dir/rollback` (names and contents), so a preview
 * shows the migrate step whenever a migration file was added or edited. With `upTo`, a migration
 * above that version (`NNN_name.sql`, `rollback/NNN_down.sql`) is left out: a file the target
 * does not reach changes nothing the update would do, so it re-runs nothing.
 */
export function migrationsChecksum(dir: string, upTo?: string): string {
    const hash = crypto.createHash("sha256");
    for (const sub of [".", "rollback"]) {
        const folder = path.join(dir, sub);
        if (!fs.existsSync(folder)) continue;
        // Stryker disable next-line MethodExpression: Node's readdirSync already returns names sorted (libuv's scandir sorts by strcmp), the same order for ASCII names; kept so the hash never depends on it
        for (const file of fs
            .readdirSync(folder)
            .filter(f => f.endsWith(".sql") && !beyond(f, upTo))
            .sort()) {
            hash.update(`${sub}/${file}\0`)
                .update(fs.readFileSync(path.join(folder, file)))
                .update("\0");
        }
    }
    return hash.digest("hex");
}

/** Whether a migration or down script's name (`NNN_….sql`) is of a version above `upTo`. */
function beyond(file: string, upTo: string | undefined): boolean {
    const version = /^(\d{3})_/.exec(file)?.[1];
    return upTo !== undefined && version !== undefined && version > upTo;
}

/** What re-runs the stack's backup and migration (DatabaseRelease's triggers): the target and the hash of the files up to it. */
export interface MigrationTriggers {
    /** The version to migrate to. */
    target: string;
    /** {@link migrationsChecksum} of the files up to `target`. */
    checksum: string;
    /** Under a hold: the versions in the folder above the held target, which this update leaves alone. */
    held?: { newer: string[] };
}

/**
 * The target of an update and its checksum. `heldAt` (the stack's applied version, under
 * `holdMigrations`) wins over `configured` and the files: the triggers then are what the update
 * that applied it recorded, so nothing is backed up or migrated however many files arrived since.
 */
export function migrationTriggers(dir: string, configured: string | undefined, heldAt?: string): MigrationTriggers {
    const target = heldAt ?? resolveMigrationTarget(configured, dir);
    const triggers: MigrationTriggers = { target, checksum: migrationsChecksum(dir, target) };
    if (heldAt === undefined) return triggers;
    const versions = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).map(f => parseMigrationFileName(f)?.version);
    const newer = versions.filter((v): v is string => v !== undefined && v > heldAt).sort();
    return { ...triggers, held: { newer } };
}

/** The preview's line for held migrations: what is held, what is not applied, what moves it on. Pure. */
export function describeMigrationHold(triggers: MigrationTriggers, migrationsDir: string): string | undefined {
    if (triggers.held === undefined) return undefined;
    const newer = triggers.held.newer;
    const what =
        newer.length === 0
            ? "no backup or migration runs"
            : `${newer.join(", ")} in ${migrationsDir}/ ${newer.length === 1 ? "is" : "are"} not applied and no backup is taken`;
    return (
        `migrations held at ${triggers.target}, the version the stack's last update applied (physioflow:holdMigrations, set by a rollback): ${what}; ` +
        "the next deploy's release step moves the target on (by hand: pulumi config set holdMigrations false)"
    );
}
