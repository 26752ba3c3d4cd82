import { promises as fs } from "fs";
import * as path from "path";
import * as tar from "tar";
import { OperationError } from "../errors";
import { DUMP_FILE, METADATA_FILE } from "./metadata";

const MEMBERS = [METADATA_FILE, DUMP_FILE];

/**
 * Packs `workDir/metadata.json` and `workDir/database.dump` into a gzipped tar
 * at `archivePath`, written under a temporary name and renamed into place so a
 * crash never leaves a half-written archive under the real name.
 */
export async function packArchive(workDir: string, archivePath: string): Promise<void> {
    const partial = path.join(path.dirname(archivePath), `.${path.basename(archivePath)}.partial`);
    try {
        await tar.create({ gzip: true, file: partial, cwd: workDir, portable: true }, MEMBERS);
        await fs.rename(partial, archivePath);
    } catch (error) {
        await fs.rm(partial, { force: true });
        throw error;
    }
}

/**
 * Unpacks an archive into `destDir` after checking that it holds exactly
 * metadata.json and database.dump as plain files (no paths, links or extras).
 * A damaged or foreign archive is refused with the reason.
 */
export async function unpackArchive(archivePath: string, destDir: string): Promise<void> {
    const seen: string[] = [];
    const unexpected: string[] = [];
    try {
        await tar.list({
            file: archivePath,
            strict: true,
            onReadEntry: (entry) => {
                if (entry.type !== "File" || !MEMBERS.includes(entry.path) || seen.includes(entry.path)) {
                    unexpected.push(`${entry.path} (${entry.type})`);
                } else {
                    seen.push(entry.path);
                }
                entry.resume();
            },
        });
    } catch (error) {
        throw new OperationError(`${archivePath} is damaged: not a readable .tar.gz (${(error as Error).message})`);
    }
    if (unexpected.length > 0) {
        throw new OperationError(`${archivePath} is not a PhysioFlow backup: unexpected entries ${unexpected.join(", ")}`);
    }
    const missing = MEMBERS.filter((member) => !seen.includes(member));
    if (missing.length > 0) {
        throw new OperationError(`${archivePath} is not a complete PhysioFlow backup: missing ${missing.join(", ")}`);
    }
    try {
        await tar.extract({ file: archivePath, cwd: destDir, strict: true, filter: (entryPath) => MEMBERS.includes(entryPath) });
    } catch (error) {
        throw new OperationError(`${archivePath} is damaged: extracting failed (${(error as Error).message})`);
    }
}
