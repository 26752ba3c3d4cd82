import { promises as fs } from "fs";
import * as path from "path";
import { UsageError } from "../errors";
import { Progress, silentProgress } from "../progress";
import { parseBackupArchiveName } from "./archiveName";

/** Runbook appendix C: keep the last 10 local backups. */
export const DEFAULT_KEEP = 10;

/** The sidecar that marks an archive kept: `<archive>.keep`. */
export const KEEP_SUFFIX = ".keep";

/**
 * Archive names in `fileNames` that have a `<archive>.keep` sidecar beside them: a restore
 * restored them, and retention never deletes them until the sidecar is deleted.
 */
export function keptArchives(fileNames: readonly string[]): string[] {
    const names = new Set(fileNames);
    return fileNames.filter(name => parseBackupArchiveName(name) !== undefined && names.has(name + KEEP_SUFFIX)).sort();
}

/**
 * Archive names to delete so that each environment keeps its `keep` newest
 * archives (by the timestamp in the name). Files that are not backup archives
 * are never selected, nor are kept archives (a `.keep` sidecar, {@link keptArchives}),
 * which do not count toward `keep` either: a restored archive never shortens the
 * window of recent backups.
 */
export function selectArchivesToPrune(fileNames: readonly string[], keep: number): string[] {
    checkKeep(keep);
    const kept = new Set(keptArchives(fileNames));
    const byEnvironment = new Map<string, { fileName: string; time: number }[]>();
    for (const fileName of fileNames) {
        const parts = parseBackupArchiveName(fileName);
        if (!parts || kept.has(fileName)) {
            continue;
        }
        const list = byEnvironment.get(parts.environment) ?? [];
        list.push({ fileName, time: parts.createdAt.getTime() });
        byEnvironment.set(parts.environment, list);
    }
    const prune: string[] = [];
    for (const list of byEnvironment.values()) {
        list.sort((a, b) => b.time - a.time || b.fileName.localeCompare(a.fileName));
        prune.push(...list.slice(keep).map(entry => entry.fileName));
    }
    return prune.sort();
}

/** Throws a usage error unless `keep` is a whole number of at least 1. */
export function checkKeep(keep: number): number {
    if (!Number.isInteger(keep) || keep < 1) {
        throw new UsageError(`--keep must be a whole number of at least 1, got "${keep}"`);
    }
    return keep;
}

/**
 * Deletes archives beyond the newest `keep` per environment in `dir`, never a kept one (it says
 * which are kept); returns the deleted paths.
 */
export async function pruneBackups(dir: string, keep: number, progress: Progress = silentProgress): Promise<string[]> {
    let names: string[];
    try {
        names = await fs.readdir(dir);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
            throw new UsageError(`backup directory not found: ${dir}`);
        }
        throw error;
    }
    const deleted: string[] = [];
    for (const name of keptArchives(names)) {
        progress.line(`backup: kept ${path.join(dir, name)} (restored; delete ${name}${KEEP_SUFFIX} to let retention prune it)`);
    }
    for (const name of selectArchivesToPrune(names, keep)) {
        const file = path.join(dir, name);
        await fs.unlink(file);
        deleted.push(file);
        progress.line(`backup: pruned ${file} (keeping the newest ${keep})`);
    }
    return deleted;
}

/**
 * Marks `archivePath` kept: writes `<archive>.keep` (0600) saying when and by which command it was
 * restored, so retention ({@link pruneBackups}) never deletes it; deleting the file releases it.
 * The archive itself is not touched. Returns the sidecar's path.
 */
export async function markArchiveKept(archivePath: string, by: string, now: Date = new Date()): Promise<string> {
    const file = archivePath + KEEP_SUFFIX;
    const text =
        `restored ${now.toISOString()} by ${by}\n` +
        `Backup retention (backup create, backup prune, the stack's pre-migrate backups) never deletes ${path.basename(archivePath)} while this file exists.\n` +
        `Delete this file to let retention prune it again.\n`;
    await fs.writeFile(file, text, { mode: 0o600 });
    // writeFile keeps the mode of a file that already exists (an earlier restore's mark) and honours the umask.
    await fs.chmod(file, 0o600);
    return file;
}
