/**
 * One `backup create` of the PG* database into the folder given as argument, in a process of its
 * own so `npm run bench` can read its peak memory (GNU time) apart from the benchmark's.
 */
import { createBackup } from "../database/backup/create";
import { connectionFromEnv } from "../database/connection";

createBackup({ connection: connectionFromEnv(), outDir: process.argv[2], environment: "bench", label: "peak-memory", keep: 1 }).catch(error => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
});
