import { MigrationFile } from "../migrations/files";
import { FileLintReport, evaluateLint } from "./rules";
import { runSquawk } from "./squawk";

/**
 * Lints up-migrations for blue-green safety with squawk, one report per file in
 * the order given. Down scripts are never linted: they are allowed to drop.
 */
export async function lintMigrationFiles(migrations: readonly MigrationFile[]): Promise<FileLintReport[]> {
    const transactional = migrations.filter(m => m.directives.transactional).map(m => m.path);
    const standalone = migrations.filter(m => !m.directives.transactional).map(m => m.path);
    const findings = [...(await runSquawk(transactional, true)), ...(await runSquawk(standalone, false))];
    return migrations.map(migration =>
        evaluateLint(
            migration.path,
            findings.filter(f => f.file === migration.path),
            migration.directives.allowBreaking,
        ),
    );
}
