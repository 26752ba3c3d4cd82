/**
 * One `backup create DIR`, `backup verify ARCHIVE` or `backup restore ARCHIVE` (into the PG*
 * database) in a process of its own, so `npm run bench` can read its peak memory (GNU time) apart
 * from the benchmark's.
 */
import { createBackup } from "../database/backup/create";
import { restoreBackup } from "../database/backup/restore";
import { verifyBackup } from "../database/backup/verify";
import { connectionFromEnv } from "../database/connection";

async function once([command, file]: string[]): Promise<void> {
    switch (command) {
        case "create":
            await createBackup({ connection: connectionFromEnv(), outDir: file, environment: "bench", label: "peak-memory", keep: 1 });
            return;
        case "verify":
            await verifyBackup(file);
            return;
        case "restore":
            await restoreBackup({ archivePath: file, connection: connectionFromEnv(), confirm: async () => true, allowOtherDatabase: true });
            return;
        default:
            throw new Error(`usage: backupOnce.ts create DIR | verify ARCHIVE | restore ARCHIVE, got "${command}"`);
    }
}

once(process.argv.slice(2)).catch(error => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
});
