/**
 * What stands between an operator and lost data: `migrate down` asks (or --yes) and takes a
 * verified backup first; `backup restore` refuses another database's or environment's archive
 * unless told, and takes a verified safety backup of what it replaces. The CLI runs in-process
 * with captured streams, against a real PostgreSQL.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { main, verifyBackup } from "../../database";
import { CliRun, runInProcess } from "../support/cliRun";
import { TestDatabase, freshDatabase } from "../support/postgres";
import { insertClinicData, snapshot } from "./seedData";

const SEEDED = path.join(__dirname, "..", "..", "migrations");

/** The database CLI in-process; `typed` set means a terminal on stdin that answers with it. */
function physioflow(argv: string[], env: Record<string, string>, typed?: string): Promise<CliRun> {
    return runInProcess(streams => main(argv, { ...streams, env }), typed);
}

function assertOneLineError(run: CliRun, code: number, pattern: RegExp): void {
    assert.strictEqual(run.code, code, `exit code; stderr: ${run.stderr}`);
    const lines = run.stderr.split("\n").filter(l => l !== "");
    assert.strictEqual(lines.length, 1, run.stderr);
    assert.match(lines[0], pattern);
}

async function version(db: TestDatabase): Promise<string> {
    return (await physioflow(["migrate", "version", "--dir", SEEDED], db.env)).stdout.trim();
}

describe("migrate down and backup restore: confirmation and safety backups", function () {
    this.timeout(240_000);
    let db: TestDatabase;
    let client: Client;
    let out: string;

    beforeEach(async () => {
        db = await freshDatabase("safety");
        client = await db.connect();
        assert.strictEqual((await physioflow(["migrate", "up", "--dir", SEEDED, "--quiet"], db.env)).code, 0);
        await insertClinicData(client);
        out = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-safety-"));
    });
    afterEach(async () => {
        await client.end();
        fs.rmSync(out, { recursive: true, force: true });
    });

    it("migrate down: refused without a terminal unless --yes, cancelled by a wrong answer, nothing changed and no backup either way", async () => {
        const before = await snapshot(client);
        const backups = path.join(out, "down");
        assertOneLineError(
            await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "004", "--backup-out", backups], db.env),
            2,
            /^physioflow: error: migrate down runs down scripts that may drop data and there is no terminal to confirm; re-run with --yes \(or --dry-run to see the plan\)$/,
        );
        const declined = await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "004", "--backup-out", backups], db.env, "not-the-name");
        assert.strictEqual(declined.code, 1, declined.stderr);
        assert.match(
            declined.stderr,
            new RegExp(
                `About to take ${db.name} from migration 006 back to 004:\\n  revert 006 .*rollback/006_down\\.sql.*\\n  revert 005 .*rollback/005_down\\.sql`,
            ),
        );
        assert.match(declined.stderr, /physioflow: error: migrate down cancelled; nothing was changed\n$/);
        assert.strictEqual(await version(db), "006");
        assert.deepStrictEqual(await snapshot(client), before);
        assert.strictEqual(fs.existsSync(backups), false, "no backup for a cancelled down");

        const dry = await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "004", "--dry-run"], db.env);
        assert.strictEqual(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, /dry run: nothing changed; would go from 006 to 004/);
    });

    it("migrate down: after the typed database name, a verified backup of the database as it was, then the down scripts", async () => {
        const before = await snapshot(client);
        const backups = path.join(out, "down");
        const run = await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "004", "--backup-out", backups, "--env", "dev"], db.env, db.name);
        assert.strictEqual(run.code, 0, run.stderr);
        const archive = /^backup (.*)$/m.exec(run.stdout)![1];
        assert.match(path.basename(archive), /^dev_pre-down-004_\d{8}_\d{6}\.tar\.gz$/);
        assert.ok(run.stdout.indexOf("backup ") < run.stdout.indexOf("reverted "), run.stdout);
        assert.match(run.stderr, /backup: verified .*\n(.*\n)*migrate: .* at 006, 2 steps to 004/);
        assert.strictEqual((await verifyBackup(archive)).metadata.migration_version, "006");
        assert.strictEqual(await version(db), "004");

        // The backup is the way back: it holds 005's audit logs, which the down script dropped.
        const restored = await physioflow(["backup", "restore", archive, "--yes", "--env", "dev", "--backup-out", path.join(out, "safety"), "--quiet"], db.env);
        assert.strictEqual(restored.code, 0, restored.stderr);
        assert.strictEqual(await version(db), "006");
        assert.deepStrictEqual(await snapshot(client), before);
    });

    it("migrate down --yes: no question; a backup that cannot be written stops it before the first down script", async () => {
        const blocked = path.join(out, "a-file");
        fs.writeFileSync(blocked, "not a directory");
        const failed = await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "005", "--yes", "--backup-out", blocked], db.env);
        assert.strictEqual(failed.code, 1, failed.stderr);
        assert.strictEqual(await version(db), "006");

        const ok = await physioflow(["migrate", "down", "--dir", SEEDED, "--to", "005", "--yes", "--backup-out", path.join(out, "down"), "--quiet"], db.env);
        assert.strictEqual(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /^backup .*local_pre-down-005_\d{8}_\d{6}\.tar\.gz$/m);
        assert.strictEqual(await version(db), "005");
    });

    it("backup restore: refuses another database's archive naming both, unless --allow-other-database", async () => {
        const other = await freshDatabase("safety_other");
        const otherClient = await other.connect();
        try {
            assert.strictEqual((await physioflow(["migrate", "up", "--dir", SEEDED, "--to", "003", "--quiet"], other.env)).code, 0);
            const taken = await physioflow(["backup", "create", "--out", out, "--env", "dev", "--quiet"], other.env);
            const archive = taken.stdout.trim();
            const before = await snapshot(client);
            assertOneLineError(
                await physioflow(["backup", "restore", archive, "--yes", "--env", "dev", "--backup-out", path.join(out, "safety"), "--quiet"], db.env),
                1,
                new RegExp(
                    `is a backup of database "${other.name}", the target is "${db.name}"; refusing to restore it \\(--allow-other-database to restore it anyway\\)$`,
                ),
            );
            assert.deepStrictEqual(await snapshot(client), before);
            assert.strictEqual(fs.existsSync(path.join(out, "safety")), false, "refused before the safety backup");

            const allowed = await physioflow(
                ["backup", "restore", archive, "--yes", "--env", "dev", "--allow-other-database", "--backup-out", path.join(out, "safety"), "--quiet"],
                db.env,
            );
            assert.strictEqual(allowed.code, 0, allowed.stderr);
            assert.strictEqual(await version(db), "003");
        } finally {
            await otherClient.end();
        }
    });

    it("backup restore: refuses another environment's archive unless --allow-other-env, and needs --env (or --allow-other-env) at all", async () => {
        const archive = (await physioflow(["backup", "create", "--out", out, "--env", "prod", "--quiet"], db.env)).stdout.trim();
        assertOneLineError(
            await physioflow(["backup", "restore", archive, "--yes", "--backup-out", path.join(out, "safety"), "--quiet"], db.env),
            2,
            /backup restore needs --env ENV \(the target's environment, e.g\. dev\)/,
        );
        assertOneLineError(
            await physioflow(["backup", "restore", archive, "--yes", "--env", "dev", "--backup-out", path.join(out, "safety"), "--quiet"], db.env),
            1,
            /is a backup of "prod", not "dev"; refusing to restore it \(--allow-other-env to restore it anyway\)$/,
        );
        const allowed = await physioflow(
            ["backup", "restore", archive, "--yes", "--env", "dev", "--allow-other-env", "--backup-out", path.join(out, "safety"), "--quiet"],
            db.env,
        );
        assert.strictEqual(allowed.code, 0, allowed.stderr);
        assert.match(allowed.stdout, /^safety backup .*\/dev_pre-restore_\d{8}_\d{6}\.tar\.gz$/m);
    });

    it("backup restore: takes a verified safety backup of what it replaces, which brings the replaced data back", async () => {
        const archive = (await physioflow(["backup", "create", "--out", out, "--env", "dev", "--quiet"], db.env)).stdout.trim();
        await client.query("DELETE FROM audit_logs");
        await client.query("UPDATE patients SET full_name = 'written after the backup'");
        const replaced = await snapshot(client);
        const safetyDir = path.join(out, "safety");

        const run = await physioflow(["backup", "restore", archive, "--yes", "--env", "dev", "--backup-out", safetyDir], db.env);
        assert.strictEqual(run.code, 0, run.stderr);
        const safety = /^safety backup (.*)$/m.exec(run.stdout)![1];
        assert.strictEqual(path.dirname(safety), safetyDir);
        assert.match(path.basename(safety), /^dev_pre-restore_\d{8}_\d{6}\.tar\.gz$/);
        assert.ok(run.stderr.indexOf("safety backup of") < run.stderr.indexOf("backup: restoring "), run.stderr);
        assert.notDeepStrictEqual(await snapshot(client), replaced);

        await new Promise(resolve => setTimeout(resolve, 1100)); // archive names have one-second resolution
        const back = await physioflow(["backup", "restore", safety, "--yes", "--env", "dev", "--backup-out", safetyDir, "--quiet"], db.env);
        assert.strictEqual(back.code, 0, back.stderr);
        assert.deepStrictEqual(await snapshot(client), replaced);
        assert.strictEqual(fs.readdirSync(safetyDir).filter(name => name.endsWith(".tar.gz")).length, 2, "each restore kept its own safety backup");
        assert.ok(fs.existsSync(`${safety}.keep`), "the restored safety backup is marked kept");
    });
});
