import { promises as fs } from "fs";
import * as path from "path";
import { UsageError } from "../errors";
import { Progress, silentProgress } from "../progress";
import { parseBackupArchiveName } from "./archiveName";

/** Runbook appendix C: keep the last 10 local backups. */
export const DEFAULT_KEEP = 10;

/**
 * Archive names to delete so that each environment keeps its `keep` newest
 * archives (by the timestamp in the name). Files that are not backup archives
 * are never selected.
 */
export function selectArchivesToPrune(fileNames: readonly string[], keep: number): string[] {
    checkKeep(keep);
    const byEnvironment = new Map<string, { fileName: string; time: number }[]>();
    for (const fileName of fileNames) {
        const parts = parseBackupArchiveName(fileName);
        if (!parts) {
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

/** Deletes archives beyond the newest `keep` per environment in `dir`; returns the deleted paths. */
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
    for (const name of selectArchivesToPrune(names, keep)) {
        const file = path.join(dir, name);
        await fs.unlink(file);
        deleted.push(file);
        progress.line(`backup: pruned ${file} (keeping the newest ${keep})`);
    }
    return deleted;
}
