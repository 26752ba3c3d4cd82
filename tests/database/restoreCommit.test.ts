/**
 * When a restore commits: its COMMIT is handed to psql only after pg_restore exited 0 and every
 * byte of the archive checked out, behind the script psql reads from pg_restore's FIFO, and a
 * restore whose process dies before that point leaves the database as it was. Real PostgreSQL,
 * pg_restore and psql; wrapped (PG_BIN_DIR) only to make them late or slow, as a busy server makes
 * them.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { createBackup } from "../../database/backup/create";
import { RESTORE_APPLICATION_NAME, restoreBackup } from "../../database/backup/restore";
import { migrateUp } from "../../database/migrations/runner";
import { TestDatabase, findPostgresBinDir, freshDatabase } from "../support/postgres";
import { insertClinicData, snapshot } from "./seedData";

const ROOT = path.join(__dirname, "..", "..");

/** A PG_BIN_DIR of the real pg_dump, pg_restore and psql, but `tool` run through `wrapper` (shell; TOOL stands for the real one with its arguments). */
function wrappedToolDir(parent: string, tool: "psql" | "pg_restore", wrapper: string): string {
    const { binDir } = findPostgresBinDir();
    const dir = fs.mkdtempSync(path.join(parent, "bin-"));
    for (const name of ["pg_dump", "pg_restore", "psql"].filter(name => name !== tool)) {
        fs.symlinkSync(path.join(binDir, name), path.join(dir, name));
    }
    const real = path.join(binDir, tool);
    fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\ncase "$1" in --version) exec ${real} "$@" ;; esac\n${wrapper.replace(/TOOL/g, `${real} "$@"`)}\n`, {
        mode: 0o755,
    });
    return dir;
}

/** Runs `body` with PG_BIN_DIR set to `binDir`. */
async function withBinDir<T>(binDir: string, body: () => Promise<T>): Promise<T> {
    const previous = process.env.PG_BIN_DIR;
    process.env.PG_BIN_DIR = binDir;
    try {
        return await body();
    } finally {
        if (previous === undefined) delete process.env.PG_BIN_DIR;
        else process.env.PG_BIN_DIR = previous;
    }
}

/** Enough audit rows that pg_restore's script (a few MB) is far bigger than the pipes between it and psql. */
async function insertManyAuditRows(client: Client): Promise<void> {
    await client.query(`
        INSERT INTO audit_logs (actor_id, action, entity_type, entity_id, changes, request_id)
        SELECT 'kc-' || i, 'read', 'soap_note', md5('e' || i), jsonb_build_object('field', md5('c' || i)), md5('r' || i)
        FROM generate_series(1, 40000) AS i`);
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise(resolve => setTimeout(resolve, 50));
    }
}

describe("restore: the COMMIT comes last, and only then", function () {
    this.timeout(180_000);
    let db: TestDatabase;
    let client: Client;
    let dir: string;
    let archivePath: string;
    let backedUp: Record<string, unknown[]>;

    beforeEach(async () => {
        db = await freshDatabase("commit");
        client = await db.connect();
        await migrateUp({ dir: path.join(ROOT, "migrations"), connection: db.connection });
        await insertClinicData(client);
        await insertManyAuditRows(client);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-commit-"));
        archivePath = (await createBackup({ connection: db.connection, outDir: dir, environment: "dev" })).archivePath;
        backedUp = await snapshot(client);
        await client.query("UPDATE patients SET full_name = 'changed after the backup'");
        await client.query("DELETE FROM audit_logs WHERE id % 2 = 0");
    });
    afterEach(async () => {
        await client.end();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("commits a restore whose psql opens the script's FIFO late: pg_restore waits for it, the read of the archive pauses, nothing is lost", async () => {
        // psql sees nothing on its stdin for 1.5 s, so it opens the FIFO (the \\i line) that late; pg_restore blocks on it meanwhile.
        const binDir = wrappedToolDir(dir, "psql", "{ sleep 1.5; cat; } | TOOL");
        const lines: string[] = [];
        const started = Date.now();
        await withBinDir(binDir, () =>
            restoreBackup({ archivePath, connection: db.connection, confirm: async () => true, progress: { line: text => lines.push(text) } }),
        );
        assert.ok(Date.now() - started >= 1500);
        assert.ok(
            lines.some(
                line =>
                    line === "backup: dump read and checked (sha256 ok); pg_restore wrote its whole script, psql runs it, then the migration check and COMMIT",
            ),
            lines.join("\n"),
        );
        assert.deepStrictEqual(await snapshot(client), backedUp);
        // The FIFO's private directory is gone with the restore.
        assert.deepStrictEqual(
            fs.readdirSync(os.tmpdir()).filter(name => name.startsWith("physioflow-restore-") && fs.statSync(path.join(os.tmpdir(), name)).mtimeMs >= started),
            [],
        );
    });

    it("commits a small restore whose pg_restore has written its whole script and exited before the table of contents is read", async () => {
        await client.query("DELETE FROM audit_logs WHERE id > 10");
        const small = (await createBackup({ connection: db.connection, outDir: dir, environment: "dev", label: "small" })).archivePath;
        const smallData = await snapshot(client);
        await client.query("UPDATE patients SET full_name = 'changed after the small backup'");
        // The listing of the table of contents (which the header needs) answers 1 s late.
        const binDir = wrappedToolDir(dir, "pg_restore", 'case " $* " in *" --list "*) sleep 1 ;; esac\nexec TOOL');
        await withBinDir(binDir, () => restoreBackup({ archivePath: small, connection: db.connection, confirm: async () => true }));
        assert.deepStrictEqual(await snapshot(client), smallData);
    });

    it("a pg_restore that fails after part of its script reached psql (exit 1, the archive intact) is never committed: the database as it was", async () => {
        // The script is cut after 300 kB, at the end of one of the audit rows of its COPY, and the tool then fails, as one the OOM killer stops would.
        const binDir = wrappedToolDir(
            dir,
            "pg_restore",
            'out=""\nfor a in "$@"; do case "$a" in --file=-) ;; --file=*) out="${a#--file=}" ;; esac; done\n' +
                'if [ -z "$out" ]; then exec TOOL; fi\nTOOL --file=/dev/stdout | head -c 300000 | sed \'$d\' > "$out"\necho "pg_restore: error: killed" >&2\nexit 1',
        );
        const before = await snapshot(client);
        await assert.rejects(
            withBinDir(binDir, () => restoreBackup({ archivePath, connection: db.connection, confirm: async () => true })),
            /^OperationError: restore failed and was rolled back, .* is unchanged: pg_restore failed \(exit 1\): killed$/,
        );
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("a restore whose process is killed (SIGKILL) half-way rolls back: the database is as it was", async () => {
        // psql gets the first 400 kB of the script (after BEGIN and the drops: the schema, some rows), then waits 3 s for the rest:
        // the script's pg_restore writes to its stdout, throttled on the way into the FIFO (its --file, overridden by a later one).
        const binDir = wrappedToolDir(
            dir,
            "pg_restore",
            'out=""\nfor a in "$@"; do case "$a" in --file=-) ;; --file=*) out="${a#--file=}" ;; esac; done\n' +
                'if [ -z "$out" ]; then exec TOOL; fi\nTOOL --file=/dev/stdout | { head -c 400000; sleep 3; cat; } > "$out"',
        );
        const before = await snapshot(client);
        const cli = spawn(
            process.execPath,
            [path.join(ROOT, "bin", "physioflow.js"), "backup", "restore", archivePath, "--env", "dev", "--yes", "--backup-out", path.join(dir, "safety")],
            { env: { ...process.env, ...db.env, PG_BIN_DIR: binDir }, stdio: ["ignore", "ignore", "pipe"] },
        );
        let stderr = "";
        cli.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        const exited = new Promise<NodeJS.Signals | null>(resolve => cli.on("exit", (_code, signal) => resolve(signal)));
        // Inside the restore's transaction: its psql session holds the exclusive locks of the drops.
        await until(`the restore's locks (stderr so far: ${stderr})`, 60_000, async () => {
            const held = await client.query(
                `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE a.application_name = $1 AND a.datname = current_database() AND l.mode = 'AccessExclusiveLock' AND l.granted`,
                [RESTORE_APPLICATION_NAME],
            );
            return held.rows[0].n > 0 ? true : undefined;
        });
        cli.kill("SIGKILL");
        assert.strictEqual(await exited, "SIGKILL");
        await until("the restore's psql session to end", 60_000, async () => {
            const sessions = await client.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
                [RESTORE_APPLICATION_NAME],
            );
            return sessions.rows[0].n === 0 ? true : undefined;
        });
        assert.deepStrictEqual(await snapshot(client), before);
        assert.doesNotMatch(stderr, /restored /);
    });
});
