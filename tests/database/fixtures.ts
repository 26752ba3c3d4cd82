import * as fs from "fs";
import * as nodePath from "path";
import { MigrationFile, RollbackFile, migrationChecksum, parseDirectives } from "../../database/migrations/files";
import { MigrationSet } from "../../database/migrations/load";
import { AppliedMigration } from "../../database/migrations/validate";
import { processTempDir } from "../../devenv/engineTemp";

/** An in-memory migrations directory: { "001_a.sql": "...", "rollback/001_down.sql": "..." }. */
export function migrationSet(files: Record<string, string>, dir = "migrations"): MigrationSet {
    const set: MigrationSet = { dir, migrations: [], rollbacks: [], malformedMigrations: [], malformedRollbacks: [], directiveProblems: [] };
    for (const [name, sql] of Object.entries(files)) {
        const path = `${dir}/${name}`;
        const { directives, problems } = parseDirectives(sql);
        if (problems.length > 0) {
            set.directiveProblems.push({ path, problems });
        }
        const rollback = /^rollback\/(\d{3})_down\.sql$/.exec(name);
        const migration = /^(\d{3})_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/.exec(name);
        if (rollback) {
            set.rollbacks.push({ version: rollback[1], path, sql, directives } satisfies RollbackFile);
        } else if (name.startsWith("rollback/")) {
            set.malformedRollbacks.push(path);
        } else if (migration) {
            set.migrations.push({ version: migration[1], name: migration[2], path, sql, checksum: migrationChecksum(sql), directives } satisfies MigrationFile);
        } else {
            set.malformedMigrations.push(path);
        }
    }
    set.migrations.sort((a, b) => a.version.localeCompare(b.version) || a.path.localeCompare(b.path));
    set.rollbacks.sort((a, b) => a.version.localeCompare(b.version));
    return set;
}

/** Three well-formed migrations with down scripts. */
export function threeMigrations(): Record<string, string> {
    return {
        "001_patients.sql": "CREATE TABLE patients (id bigint PRIMARY KEY, full_name text NOT NULL);\n",
        "002_therapists.sql": "CREATE TABLE therapists (id bigint PRIMARY KEY, full_name text NOT NULL);\n",
        "003_patient_phone.sql": "ALTER TABLE patients ADD COLUMN phone text;\n",
        "rollback/001_down.sql": "DROP TABLE patients;\n",
        "rollback/002_down.sql": "DROP TABLE therapists;\n",
        "rollback/003_down.sql": "ALTER TABLE patients DROP COLUMN phone;\n",
    };
}

/** schema_migrations rows for the given files, as if applied unchanged. */
export function appliedRows(set: MigrationSet, versions: string[]): AppliedMigration[] {
    return versions.map(version => {
        const file = set.migrations.find(m => m.version === version);
        return { version, name: file?.name ?? "gone", checksum: file?.checksum ?? "0".repeat(64), appliedAt: new Date(0), executionMs: 1 };
    });
}

/** Writes files into a new temp migrations directory (deleted when the process exits) and returns its path. */
export function writeMigrationDir(files: Record<string, string>): string {
    // In this process's own folder, deleted when it exits (and by a later process when it was killed first).
    const dir = fs.mkdtempSync(nodePath.join(processTempDir("physioflow-test-migrations-"), "migrations-"));
    fs.mkdirSync(nodePath.join(dir, "rollback"));
    for (const [name, sql] of Object.entries(files)) {
        fs.writeFileSync(nodePath.join(dir, name), sql);
    }
    return dir;
}
