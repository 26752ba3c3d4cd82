/**
 * A real PostgreSQL server for tests: initdb into a temp dir, start `postgres`
 * on a free loopback port, stop and delete it afterwards. Nothing is mocked.
 *
 * Binaries come from one /usr/lib/postgresql/<major>/bin (the newest, or
 * PG_BIN_DIR), so pg_dump/pg_restore/psql always match the server's major.
 * initdb refuses to run as root, so as root every server command runs as the
 * `postgres` system user through runuser, in a temp dir that user owns.
 * A missing binary fails loudly with what to install; it never skips.
 */
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";

/** A running test server. */
export interface TestPostgres {
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
    /** PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (database "postgres") for child processes. */
    env: Record<string, string>;
    /** Creates an empty database and returns its PG* environment. */
    createDatabase(name: string): Promise<TestDatabase>;
    /** Stops the server and deletes its files. Safe to call twice. */
    stop(): Promise<void>;
}

/** A fresh database on a test server. */
export interface TestDatabase {
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
              .filter((name) => /^\d+$/.test(name))
              .sort((a, b) => Number(b) - Number(a))
              .map((name) => path.join("/usr/lib/postgresql", name, "bin"));
    for (const binDir of candidates) {
        if (required.every((tool) => fs.existsSync(path.join(binDir, tool)))) {
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

/** Starts a new server. Each call starts its own; most suites want {@link sharedPostgres}. */
export async function startPostgres(): Promise<TestPostgres> {
    const { binDir, major } = findPostgresBinDir();
    const asRoot = process.getuid?.() === 0;
    const runAs = asRoot ? postgresSystemUser() : undefined;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-pg-"));
    const dataDir = path.join(root, "data");
    const socketDir = path.join(root, "socket");
    const logFile = path.join(root, "server.log");
    fs.mkdirSync(socketDir);
    const user = "physioflow_test";
    const password = crypto.randomBytes(12).toString("hex");
    const pwFile = path.join(root, "pwfile");
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
        chownRecursive(root, runAs.uid, runAs.gid);
    }
    const run = (tool: string, args: string[]) => {
        const command = runAs ? "runuser" : path.join(binDir, tool);
        const fullArgs = runAs ? ["-u", "postgres", "--", path.join(binDir, tool), ...args] : args;
        const result = spawnSync(command, fullArgs, { encoding: "utf8", cwd: root });
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
        if (fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
            const command = runAs ? "runuser" : path.join(binDir, "pg_ctl");
            const args = ["stop", "-D", dataDir, "-m", "immediate", "-w"];
            spawnSync(command, runAs ? ["-u", "postgres", "--", path.join(binDir, "pg_ctl"), ...args] : args, { stdio: "ignore" });
        }
        fs.rmSync(root, { recursive: true, force: true });
    };
    process.once("exit", stopSync);

    try {
        run("initdb", ["-D", dataDir, "-U", user, `--pwfile=${pwFile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
        let port = 0;
        for (let attempt = 1; ; attempt++) {
            port = await freeLoopbackPort();
            const options = [
                `-p ${port}`,
                "-c listen_addresses=127.0.0.1",
                `-c unix_socket_directories=${socketDir}`,
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=50",
            ].join(" ");
            try {
                run("pg_ctl", ["start", "-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", options]);
                break;
            } catch (error) {
                if (attempt >= 3) {
                    throw error;
                }
            }
        }
        const env = {
            PGHOST: "127.0.0.1",
            PGPORT: String(port),
            PGUSER: user,
            PGPASSWORD: password,
            PGDATABASE: "postgres",
        };
        const server: TestPostgres = {
            host: "127.0.0.1",
            port,
            user,
            password,
            major,
            binDir,
            env,
            createDatabase: async (name) => {
                if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
                    throw new Error(`test database name must be a plain lower-case identifier, got "${name}"`);
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
        return server;
    } catch (error) {
        stopSync();
        throw error;
    }
}

let shared: Promise<TestPostgres> | undefined;
let databaseCounter = 0;

/**
 * One server for the whole test run (started on first use, stopped when the
 * process exits), so each suite only pays for `createDatabase`.
 */
export function sharedPostgres(): Promise<TestPostgres> {
    shared ??= startPostgres();
    return shared;
}

/** A fresh database on the shared server, named after `prefix`. */
export async function freshDatabase(prefix = "test"): Promise<TestDatabase> {
    const server = await sharedPostgres();
    databaseCounter++;
    return server.createDatabase(`${prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_")}_${process.pid}_${databaseCounter}`);
}

function postgresSystemUser(): { uid: number; gid: number } {
    try {
        const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
        const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
        execFileSync("runuser", ["--help"], { stdio: "ignore" });
        return { uid, gid };
    } catch {
        throw new Error(
            'running as root needs the "postgres" system user and runuser to start a test server (initdb refuses root): "apt-get install -y postgresql" creates the user',
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

function freeLoopbackPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}
