/**
 * The database half of `npm run bench`: this project's backup, verify, restore and migration runner
 * (database/, called as the CLI calls them) against the raw tools the runbook's scripts use, on the
 * same database of one PostgreSQL server, paired round by round (A then B, B then A, ...).
 */
import { spawn } from "child_process";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { createBackup } from "../database/backup/create";
import { restoreBackup } from "../database/backup/restore";
import { verifyBackup } from "../database/backup/verify";
import { migrateUp } from "../database/migrations/runner";
import { PostgresServer, ServerDatabase } from "../devenv/postgresServer";
import { fillDataset } from "./dataset";
import { Measurement, pairedRounds } from "./measure";

const ROOT = path.join(__dirname, "..");

export interface DatabaseBenchOptions {
    server: PostgresServer;
    /** Approximate database size in MB. */
    sizeMb: number;
    rounds: number;
    log: (line: string) => void;
}

export interface DatabaseBenchResult {
    /** Size of the generated database and of its dump. */
    databaseBytes: number;
    dumpBytes: number;
    /** The pairs, in table order. */
    pairs: Measurement[];
    /** Where each `backup create`, `backup verify` and `backup restore` spent its time, from its progress lines (median ms per phase). */
    backupPhases: { phase: string; ms: number }[];
    verifyPhases: { phase: string; ms: number }[];
    restorePhases: { phase: string; ms: number }[];
    /** Peak RSS in kB (largest process: node or a tool it runs) of one `backup create`, `backup verify`, `backup restore`, and of the raw tools. */
    peakRssKb: { backup: number; pgDump: number; verify: number; restore: number; pgRestore: number };
}

export async function benchDatabase(options: DatabaseBenchOptions): Promise<DatabaseBenchResult> {
    const { server, log } = options;
    const work = await fs.mkdtemp(path.join(os.tmpdir(), "physioflow-bench-"));
    const tool = (name: string) => path.join(server.binDir, name);
    try {
        log(`bench: generating the data set (about ${options.sizeMb} MB) ...`);
        const source = await server.createDatabase("bench_source");
        await migrateUp({ dir: path.join(ROOT, "migrations"), connection: source.connection, lint: false });
        const client = await source.connect();
        let databaseBytes: number;
        try {
            await fillDataset(client, options.sizeMb);
            databaseBytes = Number((await client.query<{ n: string }>("SELECT pg_database_size(current_database()) AS n")).rows[0].n);
        } finally {
            await client.end();
        }
        log(`bench: data set ready, ${(databaseBytes / 1e6).toFixed(0)} MB`);

        const backupDir = path.join(work, "backups");
        const rawDump = path.join(work, "raw.dump");
        let lastArchive = "";
        const phaseRuns: Map<string, number[]> = new Map();
        const verifyPhaseRuns: Map<string, number[]> = new Map();
        let label = 0;
        const backup = await pairedRounds({
            name: "backup create vs pg_dump -Fc",
            a: {
                label: "`physioflow backup create` (dump, archive, verified)",
                run: async () => {
                    const marks: { text: string; at: number }[] = [];
                    const started = Date.now();
                    const created = await createBackup({
                        connection: source.connection,
                        outDir: backupDir,
                        environment: "bench",
                        label: `round-${++label}`,
                        keep: 1,
                        progress: { line: text => marks.push({ text, at: Date.now() }) },
                    });
                    recordPhases(phaseRuns, started, marks, Date.now());
                    lastArchive = created.archivePath;
                },
            },
            b: { label: "`pg_dump -Fc`", run: () => runCommand(tool("pg_dump"), ["-Fc", "--no-password", `--file=${rawDump}`], source.env) },
            rounds: options.rounds,
            log,
        });
        const dumpBytes = (await fs.stat(rawDump)).size;

        const verify = await pairedRounds({
            name: "backup verify vs pg_restore --list + sha256sum",
            a: {
                label: "`physioflow backup verify`",
                run: async () => {
                    const marks: { text: string; at: number }[] = [];
                    const started = Date.now();
                    await verifyBackup(lastArchive, { line: text => marks.push({ text, at: Date.now() }) });
                    recordPhases(verifyPhaseRuns, started, marks, Date.now());
                },
            },
            b: {
                label: "`pg_restore --list` + `sha256sum` of the dump",
                run: async () => {
                    await runCommand(tool("pg_restore"), ["--list", `--file=/dev/null`, rawDump], server.env);
                    await runCommand("sha256sum", [rawDump], server.env);
                },
            },
            rounds: options.rounds,
            log,
        });

        const restorePhaseRuns: Map<string, number[]> = new Map();
        let target = 0;
        const emptyDatabase = () => server.createDatabase(`bench_restore_${++target}`);
        const restore = await pairedRounds({
            name: "restore vs pg_restore --single-transaction",
            a: {
                label: "`physioflow backup restore` (one transaction, into an empty database)",
                run: async () => {
                    const db = await emptyDatabase();
                    const marks: { text: string; at: number }[] = [];
                    const started = Date.now();
                    await restoreBackup({
                        archivePath: lastArchive,
                        connection: db.connection,
                        confirm: async () => true,
                        allowOtherDatabase: true,
                        progress: { line: text => marks.push({ text, at: Date.now() }) },
                    });
                    recordPhases(restorePhaseRuns, started, marks, Date.now());
                    await dropDatabase(server, db);
                },
            },
            b: {
                label: "`pg_restore --single-transaction` (into an empty database)",
                run: async () => {
                    const db = await emptyDatabase();
                    await runCommand(tool("pg_restore"), ["--single-transaction", "--no-owner", "--exit-on-error", "-d", db.name, rawDump], db.env);
                    await dropDatabase(server, db);
                },
            },
            rounds: options.rounds,
            log,
        });
        const parallelRestore = await pairedRounds({
            name: "pg_restore --jobs (reference)",
            a: {
                label: "`pg_restore --single-transaction`",
                run: async () => {
                    const db = await emptyDatabase();
                    await runCommand(tool("pg_restore"), ["--single-transaction", "--no-owner", "--exit-on-error", "-d", db.name, rawDump], db.env);
                    await dropDatabase(server, db);
                },
            },
            b: {
                label: `\`pg_restore --jobs=${os.cpus().length}\` (no single transaction)`,
                run: async () => {
                    const db = await emptyDatabase();
                    await runCommand(tool("pg_restore"), [`--jobs=${os.cpus().length}`, "--no-owner", "--exit-on-error", "-d", db.name, rawDump], db.env);
                    await dropDatabase(server, db);
                },
            },
            rounds: options.rounds,
            log,
        });

        const migrationsDir = path.join(work, "migrations");
        await writeGeneratedMigrations(migrationsDir, 100);
        const files = (await fs.readdir(migrationsDir)).filter(f => f.endsWith(".sql")).sort();
        const migrate = await pairedRounds({
            name: "migration runner vs psql -1 -f",
            a: {
                label: "`physioflow migrate up` (100 files)",
                run: async () => {
                    const db = await emptyDatabase();
                    await migrateUp({ dir: migrationsDir, connection: db.connection });
                    await dropDatabase(server, db);
                },
            },
            b: {
                label: "`psql -1 -f` per file (100 files)",
                run: async () => {
                    const db = await emptyDatabase();
                    for (const file of files) {
                        await runCommand(
                            tool("psql"),
                            ["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-1", "-f", path.join(migrationsDir, file)],
                            db.env,
                        );
                    }
                    await dropDatabase(server, db);
                },
            },
            rounds: options.rounds,
            log,
        });

        log("bench: peak memory of one backup create, verify and restore and of the raw tools (/usr/bin/time) ...");
        const once = (args: string[], env: Record<string, string>) =>
            peakRss(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "backupOnce.ts"), ...args], env);
        const restoreTarget = await emptyDatabase();
        const rawTarget = await emptyDatabase();
        const peakRssKb = {
            backup: await once(["create", backupDir], source.env),
            pgDump: await peakRss(tool("pg_dump"), ["-Fc", "--no-password", `--file=${rawDump}`], source.env),
            verify: await once(["verify", lastArchive], server.env),
            restore: await once(["restore", lastArchive], restoreTarget.env),
            pgRestore: await peakRss(
                tool("pg_restore"),
                ["--single-transaction", "--no-owner", "--exit-on-error", "-d", rawTarget.name, rawDump],
                rawTarget.env,
            ),
        };
        await dropDatabase(server, restoreTarget);
        await dropDatabase(server, rawTarget);
        const phases = (runs: Map<string, number[]>) => [...runs].map(([phase, values]) => ({ phase, ms: median(values) }));
        return {
            databaseBytes,
            dumpBytes,
            pairs: [backup, verify, restore, parallelRestore, migrate],
            backupPhases: phases(phaseRuns),
            verifyPhases: phases(verifyPhaseRuns),
            restorePhases: phases(restorePhaseRuns),
            peakRssKb,
        };
    } finally {
        await fs.rm(work, { recursive: true, force: true });
    }
}

/** Time between progress lines, named by the line that ends each span ("backup: pg_dump" etc.). */
function recordPhases(runs: Map<string, number[]>, started: number, marks: { text: string; at: number }[], ended: number): void {
    let previous = started;
    for (const mark of [...marks, { text: "after the last line (prune, return)", at: ended }]) {
        const phase = mark.text
            .replace(/ in [0-9.]+ m?s.*$/, "")
            .replace(/[0-9.]+ (B|kB|MB|GB)/g, "N")
            .replace(/\/\S+/g, "FILE")
            .replace(/round-\d+/g, "")
            .replace(/bench_restore_\d+/g, "DB")
            .replace(/\S+@\S+/g, "TARGET")
            .replace(/sha256 [0-9a-f]+…?/g, "sha256 …")
            .slice(0, 70);
        const list = runs.get(phase) ?? [];
        list.push(mark.at - previous);
        runs.set(phase, list);
        previous = mark.at;
    }
}

async function dropDatabase(server: PostgresServer, db: ServerDatabase): Promise<void> {
    await runCommand(path.join(server.binDir, "psql"), ["-X", "-q", "--no-password", "-c", `DROP DATABASE ${db.name}`], server.env);
}

/** 100 small migrations: a table each, an index, a few rows, and their down scripts. */
async function writeGeneratedMigrations(dir: string, count: number): Promise<void> {
    await fs.mkdir(path.join(dir, "rollback"), { recursive: true });
    for (let i = 1; i <= count; i++) {
        const version = String(i).padStart(3, "0");
        await fs.writeFile(
            path.join(dir, `${version}_bench_table_${version}.sql`),
            `CREATE TABLE bench_${version} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n` +
                `CREATE INDEX bench_${version}_name_idx ON bench_${version} (name);\n` +
                `INSERT INTO bench_${version} (id, name) SELECT i, md5(i::text) FROM generate_series(1, 100) AS i;\n`,
        );
        await fs.writeFile(path.join(dir, "rollback", `${version}_down.sql`), `DROP TABLE bench_${version};\n`);
    }
}

/** Runs a program to completion; rejects with its stderr on failure. */
export function runCommand(command: string, args: string[], env: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", code =>
            code === 0 ? resolve() : reject(new Error(`${path.basename(command)} failed (exit ${code}): ${stderr.trim().split("\n").pop()}`)),
        );
    });
}

/** Maximum resident set size (kB) of a command and the children it waited for, from GNU time. */
async function peakRss(command: string, args: string[], env: Record<string, string>): Promise<number> {
    const output = path.join(os.tmpdir(), `physioflow-bench-rss-${process.pid}`);
    await runCommand("/usr/bin/time", ["-f", "%M", "-o", output, command, ...args], { ...env, TS_NODE_PROJECT: path.join(ROOT, "tsconfig.json") });
    const kb = Number((await fs.readFile(output, "utf8")).trim().split("\n").pop());
    await fs.rm(output, { force: true });
    return kb;
}

export function median(values: number[]): number {
    const sorted = [...values].sort((x, y) => x - y);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}
