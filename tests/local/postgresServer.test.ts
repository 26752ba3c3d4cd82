import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { loopbackPortIsFree } from "../../devenv/freePorts";
import { startPostgres } from "../../devenv/postgresServer";

describe("a PostgreSQL kept in a data dir (npm run local)", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-kept-pg-"));
        fs.chmodSync(dir, 0o755); // as root the server runs as `postgres`, which must reach the data dir
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("keeps its data between a stop and the next start, and initdb runs only the first time", async () => {
        const dataDir = path.join(dir, "postgres", "data");
        const first = await startPostgres({ dataDir, user: "postgres", password: "first-password" });
        assert.strictEqual(first.created, true);
        const db = await first.createDatabase("kept");
        const client = await db.connect();
        await client.query("CREATE TABLE patients (name text); INSERT INTO patients VALUES ('Ada')");
        await client.end();
        await first.stop();
        assert.ok(fs.existsSync(path.join(dataDir, "PG_VERSION")), "the data dir was deleted on stop");
        assert.ok(!fs.existsSync(path.join(dataDir, "postmaster.pid")), "the server is still running");

        const second = await startPostgres({ dataDir, user: "postgres", password: "first-password" });
        try {
            assert.strictEqual(second.created, false);
            const again = new Client({ host: "127.0.0.1", port: second.port, user: "postgres", password: "first-password", database: "kept" });
            await again.connect();
            const { rows } = await again.query("SELECT name FROM patients");
            await again.end();
            assert.deepStrictEqual(rows, [{ name: "Ada" }]);
        } finally {
            await second.stop();
        }
        assert.ok(fs.existsSync(path.join(dir, "postgres", "server.log")), "no server log beside the data dir");
    });
});

describe("a temp PostgreSQL whose owner process is killed outright", () => {
    /** A node process that starts a temp server and keeps running, and the server's port and temp dir. */
    async function startOwner(): Promise<{ child: ChildProcess; port: number; dir: string }> {
        const child = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                "-e",
                `require("./devenv/postgresServer").startPostgres().then(s => { console.log(s.port); setInterval(() => undefined, 1000); })`,
            ],
            { cwd: path.join(__dirname, "..", ".."), stdio: ["ignore", "pipe", "inherit"] },
        );
        const port = Number(
            await new Promise<string>((resolve, reject) => {
                child.stdout.once("data", chunk => resolve(String(chunk).trim()));
                child.once("exit", code => reject(new Error(`the owner exited (${code}) before its server started`)));
            }),
        );
        // A failed check must not leave the owner (and its server) running.
        const owned = (check: () => void) => {
            try {
                check();
            } catch (error) {
                child.kill("SIGKILL");
                throw error;
            }
        };
        const listening = !(await loopbackPortIsFree(port));
        owned(() => assert.ok(listening, "the server listens"));
        const [dir] = fs
            .readdirSync(os.tmpdir())
            .filter(name => name.startsWith("physioflow-pg-"))
            .filter(
                name =>
                    fs.existsSync(path.join(os.tmpdir(), name, "data", "postmaster.pid")) &&
                    fs.readFileSync(path.join(os.tmpdir(), name, "data", "postmaster.pid"), "utf8").split("\n")[3] === String(port),
            );
        owned(() => assert.ok(dir, "its temp dir holds the running server"));
        return { child, port, dir };
    }

    async function waitUntilStoppedAndDeleted(port: number, dir: string): Promise<void> {
        const deadline = Date.now() + 20_000;
        while (!(await loopbackPortIsFree(port)) || fs.existsSync(path.join(os.tmpdir(), dir))) {
            assert.ok(Date.now() < deadline, `the server on ${port} still runs, or ${dir} is still there, 20 s after its owner was killed`);
            await new Promise(resolve => setTimeout(resolve, 250));
        }
    }

    /** Every descendant of `pid` (by parent pid, as tree-kill finds them), deepest last. */
    function descendants(pid: number): number[] {
        // ps exits 1 when the process has no children.
        const children = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
            .stdout.split("\n")
            .map(line => Number(line.trim()))
            .filter(child => child > 0);
        return children.flatMap(child => [child, ...descendants(child)]);
    }

    it("is stopped by its watchdog and its files deleted, as no exit hook runs", async function () {
        this.timeout(60_000);
        const { child, port, dir } = await startOwner();
        child.kill("SIGKILL");
        await waitUntilStoppedAndDeleted(port, dir);
    });

    it("is stopped by its watchdog when the owner's whole process tree is killed (as StrykerJS ends a test runner)", async function () {
        this.timeout(60_000);
        const { child, port, dir } = await startOwner();
        const tree = [child.pid!, ...descendants(child.pid!)];
        for (const pid of tree) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        await waitUntilStoppedAndDeleted(port, dir);
    });
});
