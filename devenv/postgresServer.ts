/**
 * A real PostgreSQL server on this machine, for tests and `npm run local`: initdb,
 * `postgres` on a loopback port, stop afterwards. Nothing is mocked.
 *
 * By default everything lives in a temp dir that is deleted on stop (tests). With
 * `dataDir` the cluster is kept there between runs: initdb only the first time,
 * a clean `pg_ctl stop -m fast` at the end (`npm run local`).
 *
 * Binaries come from one /usr/lib/postgresql/<major>/bin (the newest, or
 * PG_BIN_DIR), so pg_dump/pg_restore/psql always match the server's major.
 * initdb refuses to run as root, so as root every server command runs as the
 * `postgres` system user through runuser, on files that user owns.
 * A missing binary fails loudly with what to install; it never skips.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { processAlive } from "./engineTemp";
import { freeLoopbackPort } from "./freePorts";

export interface PostgresServerOptions {
    /** Keep the cluster in this directory between runs (created with initdb when it has none). Default: a temp dir deleted on stop. */
    dataDir?: string;
    /** Where the server log goes. Default: `server.log` beside the data dir. */
    logFile?: string;
    /** Loopback port. Default: a free one. */
    port?: number;
    /** Superuser created by initdb. Default "physioflow_test". */
    user?: string;
    /** Its password; a kept cluster must be given the one it was created with. Default: random. */
    password?: string;
}

/** A running server. */
export interface PostgresServer {
    /** "127.0.0.1". */
    host: string;
    /** Loopback TCP port. */
    port: number;
    /** Superuser role created by initdb. */
    user: string;
    /** Its password (scram-sha-256 authentication is on, so clients must send it). */
    password: string;
    /** Server major version, e.g. 15. */
    major: number;
    /** Directory holding initdb, postgres, pg_dump, pg_restore, psql of that major. */
    binDir: string;
    /** True when this start ran initdb (always for a temp cluster). */
    created: boolean;
    /** PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (database "postgres") for child processes. */
    env: Record<string, string>;
    /** Creates an empty database and returns its PG* environment. */
    createDatabase(name: string): Promise<ServerDatabase>;
    /** Stops the server; deletes its files unless `dataDir` was given. Safe to call twice. */
    stop(): Promise<void>;
}

/** A database on a server. */
export interface ServerDatabase {
    /** Database name. */
    name: string;
    /** PG* variables for it (merge into process.env for child processes). */
    env: Record<string, string>;
    /** Same as env, in the shape of database/connection.ts ConnectionSettings. */
    connection: { host: string; port: number; user: string; password: string; database: string };
    /** A connected pg client for setting up and inspecting data; closed by the caller. */
    connect(): Promise<Client>;
}

/** Finds the server binaries or throws saying what to install. */
export function findPostgresBinDir(): { binDir: string; major: number } {
    const required = ["initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore", "psql"];
    const fromEnv = process.env.PG_BIN_DIR;
    const candidates = fromEnv
        ? [fromEnv]
        : listDirs("/usr/lib/postgresql")
              .filter(name => /^\d+$/.test(name))
              .sort((a, b) => Number(b) - Number(a))
              .map(name => path.join("/usr/lib/postgresql", name, "bin"));
    for (const binDir of candidates) {
        if (required.every(tool => fs.existsSync(path.join(binDir, tool)))) {
            const version = execFileSync(path.join(binDir, "pg_ctl"), ["--version"], { encoding: "utf8" });
            const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1]);
            return { binDir, major };
        }
    }
    throw new Error(
        `PostgreSQL server binaries not found (need ${required.join(", ")} in ${fromEnv ?? "/usr/lib/postgresql/<major>/bin"}): ` +
            `install them with "apt-get install -y postgresql postgresql-contrib" (Debian) or set PG_BIN_DIR`,
    );
}

/** Starts a server. Each call starts its own; tests mostly want tests/support/postgres.ts `sharedPostgres`. */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const { binDir, major } = findPostgresBinDir();
    const runAs = process.getuid?.() === 0 ? postgresSystemUser() : undefined;
    const kept = options.dataDir !== undefined;
    if (options.dataDir !== undefined) {
        const keptDir = path.dirname(path.resolve(options.dataDir));
        // Our own server may have kept running after an earlier run was killed.
        stopServer(binDir, path.resolve(options.dataDir), runAs, "fast");
        fs.mkdirSync(keptDir, { recursive: true });
        if (runAs) {
            checkReachable(keptDir);
            chownRecursive(keptDir, runAs.uid, runAs.gid);
        }
    }
    // Socket and password file always go to a temp dir: a Unix socket path must stay short.
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-pg-"));
    const dataDir = options.dataDir ? path.resolve(options.dataDir) : path.join(scratch, "data");
    const logFile = options.logFile ? path.resolve(options.logFile) : path.join(path.dirname(dataDir), "server.log");
    const socketDir = path.join(scratch, "socket");
    fs.mkdirSync(socketDir);
    const user = options.user ?? "physioflow_test";
    const password = options.password ?? crypto.randomBytes(12).toString("hex");
    const created = !fs.existsSync(path.join(dataDir, "PG_VERSION"));
    if (runAs) {
        chownRecursive(scratch, runAs.uid, runAs.gid);
    }
    const run = (tool: string, args: string[]) => {
        const command = runAs ? "runuser" : path.join(binDir, tool);
        const fullArgs = runAs ? ["-u", "postgres", "--", path.join(binDir, tool), ...args] : args;
        const result = spawnSync(command, fullArgs, { encoding: "utf8", cwd: scratch });
        if (result.error || result.status !== 0) {
            const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-2000) : "";
            throw new Error(`${tool} ${args.join(" ")} failed: ${result.error?.message ?? ""}${result.stderr}${result.stdout}${log}`);
        }
    };
    let stopped = false;
    const stopSync = () => {
        if (stopped) {
            return;
        }
        stopped = true;
        stopServer(binDir, dataDir, runAs, kept ? "fast" : "immediate");
        fs.rmSync(scratch, { recursive: true, force: true });
    };
    process.once("exit", stopSync);

    try {
        if (created) {
            const pwFile = path.join(scratch, "pwfile");
            fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
            if (runAs) fs.chownSync(pwFile, runAs.uid, runAs.gid);
            run("initdb", ["-D", dataDir, "-U", user, `--pwfile=${pwFile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
            fs.rmSync(pwFile);
        }
        let port = 0;
        for (let attempt = 1; ; attempt++) {
            port = options.port ?? (await freeLoopbackPort());
            const settings = [
                `-p ${port}`,
                "-c listen_addresses=127.0.0.1",
                `-c unix_socket_directories=${socketDir}`,
                // A kept cluster holds state worth keeping; a temp one is thrown away, so skip the flushing.
                ...(kept ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
                "-c max_connections=50",
            ].join(" ");
            try {
                run("pg_ctl", ["start", "-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", settings]);
                break;
            } catch (error) {
                if (attempt >= 3 || options.port !== undefined) {
                    throw error;
                }
            }
        }
        if (!kept) startWatchdog(binDir, dataDir, scratch, runAs);
        const env = {
            PGHOST: "127.0.0.1",
            PGPORT: String(port),
            PGUSER: user,
            PGPASSWORD: password,
            PGDATABASE: "postgres",
        };
        return {
            host: "127.0.0.1",
            port,
            user,
            password,
            major,
            binDir,
            created,
            env,
            createDatabase: async name => {
                if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
                    throw new Error(`database name must be a plain lower-case identifier, got "${name}"`);
                }
                const admin = new Client({ host: "127.0.0.1", port, user, password, database: "postgres" });
                await admin.connect();
                try {
                    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
                } finally {
                    await admin.end();
                }
                const connection = { host: "127.0.0.1", port, user, password, database: name };
                return {
                    name,
                    env: { ...env, PGDATABASE: name },
                    connection,
                    connect: async () => {
                        const client = new Client(connection);
                        await client.connect();
                        return client;
                    },
                };
            },
            stop: async () => {
                process.removeListener("exit", stopSync);
                stopSync();
            },
        };
    } catch (error) {
        stopSync();
        throw error;
    }
}

/**
 * A temp server outlives a test process that is killed outright (a mocha worker ended by its pool,
 * a SIGKILL): its exit hook never runs. A detached shell polls that process and, once it is gone,
 * stops the server and deletes its files (the control plane has the same watchdog, cluster.sh).
 */
function startWatchdog(binDir: string, dataDir: string, scratch: string, runAs: { uid: number; gid: number } | undefined): void {
    const pgCtl = `${runAs ? "runuser -u postgres -- " : ""}'${path.join(binDir, "pg_ctl")}'`;
    const script =
        `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
        `[ -f '${dataDir}/postmaster.pid' ] && ${pgCtl} stop -D '${dataDir}' -m immediate >/dev/null 2>&1; rm -rf '${scratch}'`;
    // The loop runs in a background subshell whose parent exits at once, so it belongs to init rather
    // than to this process: a runner that kills this process's whole tree (StrykerJS kills a test
    // runner with tree-kill, by parent pid) does not take the watchdog with it.
    spawn("sh", ["-c", `(${script}) </dev/null >/dev/null 2>&1 &`], { detached: true, stdio: "ignore" }).unref();
}

/**
 * The server running on `dataDir` now, from its `postmaster.pid` (first line the postmaster's pid,
 * fourth its port), if that process is alive; undefined otherwise (none, or a file a killed server left).
 */
export function postgresRunningIn(dataDir: string): { pid: number; port: number } | undefined {
    let lines: string[];
    try {
        lines = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n");
    } catch {
        return undefined;
    }
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
    return processAlive(pid) ? { pid, port } : undefined;
}

/** Stops a server an interrupted run left running on a kept data dir, if any (`pg_ctl stop -m fast`). */
export function stopPostgresIn(dataDir: string): void {
    if (!fs.existsSync(path.join(dataDir, "postmaster.pid"))) return;
    const runAs = process.getuid?.() === 0 ? postgresSystemUser() : undefined;
    stopServer(findPostgresBinDir().binDir, dataDir, runAs, "fast");
}

/** Stops the server of a data dir if one is running; a temp cluster's files are deleted with the scratch dir. */
function stopServer(binDir: string, dataDir: string, runAs: { uid: number } | undefined, mode: "fast" | "immediate"): void {
    if (!fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
        return;
    }
    const pgCtl = path.join(binDir, "pg_ctl");
    const args = ["stop", "-D", dataDir, "-m", mode, "-w"];
    spawnSync(runAs ? "runuser" : pgCtl, runAs ? ["-u", "postgres", "--", pgCtl, ...args] : args, { stdio: "ignore" });
}

function postgresSystemUser(): { uid: number; gid: number } {
    try {
        const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
        const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
        execFileSync("runuser", ["--help"], { stdio: "ignore" });
        return { uid, gid };
    } catch {
        throw new Error(
            'running as root needs the "postgres" system user and runuser to start PostgreSQL (initdb refuses root): "apt-get install -y postgresql" creates the user',
        );
    }
}

/** As root the server runs as `postgres`, which must be able to reach the kept data dir's parent. */
function checkReachable(dir: string): void {
    const result = spawnSync("runuser", ["-u", "postgres", "--", "test", "-x", path.dirname(dir)], { stdio: "ignore" });
    if (result.status !== 0) {
        throw new Error(
            `the postgres system user cannot reach ${dir} (a parent directory is not world-executable); move the repository or chmod o+x its parents`,
        );
    }
}

function chownRecursive(dir: string, uid: number, gid: number): void {
    fs.chownSync(dir, uid, gid);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            chownRecursive(full, uid, gid);
        } else {
            fs.chownSync(full, uid, gid);
        }
    }
}

function listDirs(dir: string): string[] {
    try {
        return fs.readdirSync(dir);
    } catch {
        return [];
    }
}
