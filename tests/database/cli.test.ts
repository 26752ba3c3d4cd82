import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { CliRun, runBinary } from "../support/cliRun";
import { TestDatabase, freshDatabase } from "../support/postgres";
import { threeMigrations, writeMigrationDir } from "./fixtures";
import { insertClinicData, snapshot } from "./seedData";

const ROOT = path.join(__dirname, "..", "..");

/** The real CLI as a child process, with no terminal on stdin. */
const physioflow = runBinary;

function assertOneLineError(run: CliRun, code: number, pattern: RegExp): void {
    assert.strictEqual(run.code, code, `exit code; stderr: ${run.stderr}`);
    const lines = run.stderr.split("\n").filter(l => l !== "");
    assert.strictEqual(lines.length, 1, `expected one stderr line, got:\n${run.stderr}`);
    assert.match(lines[0], /^physioflow: error: /);
    assert.match(lines[0], pattern);
}

function lastLine(text: string): string {
    const lines = text.split("\n").filter(l => l.trim() !== "");
    return lines[lines.length - 1] ?? "";
}

describe("physioflow CLI (real process)", function () {
    this.timeout(240_000);
    let db: TestDatabase;
    let client: Client;

    before(async () => {
        db = await freshDatabase("cli");
        client = await db.connect();
    });
    after(async () => {
        await client.end();
    });

    it("prints usage with --help and exits 0", async () => {
        const run = await physioflow(["--help"]);
        assert.strictEqual(run.code, 0);
        assert.match(run.stdout, /^Usage: physioflow <command>/);
        assert.match(run.stdout, /migrate up \[--to NNN\] \[--dry-run\]/);
        assert.match(run.stdout, /backup restore FILE --env ENV \[--yes\]/);
        assert.strictEqual(run.stderr, "");
    });

    it("answers bad input with one line and exit 2", async () => {
        assertOneLineError(
            await physioflow(["rollout"]),
            2,
            /unknown command "rollout"; expected "migrate", "backup", "deploy", "rollback", "status", "sync", "verify" or "import"/,
        );
        // deploy is the release code's command (release/cli.ts), with its own one-line usage errors.
        assertOneLineError(await physioflow(["deploy"]), 2, /^physioflow: error: deploy needs a stack and a tag: physioflow deploy <stack> <tag>$/);
        assertOneLineError(await physioflow(["migrate", "up", "--to", "5"]), 2, /--to must be a three-digit migration number such as 005, got "5"/);
        assertOneLineError(await physioflow(["backup", "verify", "/nonexistent/dev_x_20260101_000000.tar.gz"]), 2, /backup archive not found: \/nonexistent\//);
        assertOneLineError(
            await physioflow(["migrate", "status", "--dir", "/nonexistent/migrations"], db.env),
            2,
            /migrations directory not found: \/nonexistent\/migrations/,
        );
        // The other usage errors come from the same parser; tests/database/cliArgs.test.ts covers them without a process each.
    });

    it("reports an operational failure in one line, with the stack only under --verbose", async () => {
        const env = { ...db.env, PGPASSWORD: "wrong-password" };
        const quiet = await physioflow(["migrate", "version"], env);
        assertOneLineError(quiet, 1, /cannot connect to PostgreSQL at .*password authentication failed.*check the password in PGPASSWORD/);
        assert.ok(!quiet.stderr.includes("wrong-password"));
        const verbose = await physioflow(["migrate", "version", "--verbose"], env);
        assert.strictEqual(verbose.code, 1);
        assert.match(verbose.stderr, /^physioflow: error: cannot connect/);
        assert.match(verbose.stderr, /\n\s+at /);
    });

    it("migrates, reports version and status, and refuses invalid or breaking migrations with exit 1", async () => {
        const dir = writeMigrationDir(threeMigrations());
        const dry = await physioflow(["migrate", "up", "--dir", dir, "--dry-run"], db.env);
        assert.strictEqual(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, /would apply .*001_patients\.sql in a transaction/);
        assert.strictEqual(lastLine(dry.stdout), "dry run: nothing changed; would go from 000 to 003");

        const up = await physioflow(["migrate", "up", "--dir", dir, "--to", "002"], db.env);
        assert.strictEqual(up.code, 0, up.stderr);
        assert.strictEqual(lastLine(up.stdout), "database is now at 002 (was 000)");
        assert.match(up.stderr, /migrate: applied .*002_therapists\.sql in \d+/);

        const version = await physioflow(["migrate", "version", "--dir", dir], db.env);
        assert.deepStrictEqual([version.code, version.stdout], [0, "002\n"]);

        const status = await physioflow(["migrate", "status", "--dir", dir], db.env);
        assert.strictEqual(status.code, 0);
        assert.match(status.stdout, /^current 002, newest file 003\n001 {2}applied/);
        assert.match(status.stdout, /003 {2}pending/);

        fs.writeFileSync(path.join(dir, "004_drop_name.sql"), "ALTER TABLE therapists DROP COLUMN full_name;\n");
        fs.writeFileSync(path.join(dir, "rollback", "004_down.sql"), "ALTER TABLE therapists ADD COLUMN full_name text;\n");
        const lint = await physioflow(["migrate", "lint", "--dir", dir], db.env);
        assertOneLineError(lint, 1, /lint failed: .*004_drop_name\.sql:1 \[ban-drop-column\]/);
        assert.match(lint.stdout, /^ok {6}.*001_patients\.sql$/m);
        assert.match(lint.stdout, /^FAIL {4}.*004_drop_name\.sql \(1 breaking\)$/m);

        const refusedUp = await physioflow(["migrate", "up", "--dir", dir], db.env);
        assertOneLineError(refusedUp, 1, /refused to migrate: breaks the color still serving traffic: .*004_drop_name\.sql:1 \[ban-drop-column\]/);
        assert.strictEqual((await physioflow(["migrate", "version"], db.env)).stdout, "002\n");

        fs.rmSync(path.join(dir, "rollback", "004_down.sql"));
        const validate = await physioflow(["migrate", "validate", "--dir", dir], db.env);
        assertOneLineError(validate, 1, /refused to migrate: 1 problem: .*004_drop_name\.sql: has no down script/);
        assert.match(validate.stdout, /^refused: .*004_drop_name\.sql: has no down script/);

        const backups = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-cli-down-"));
        try {
            assertOneLineError(
                await physioflow(["migrate", "down", "--dir", dir, "--to", "000"], db.env),
                2,
                /migrate down runs down scripts that may drop data and there is no terminal to confirm; re-run with --yes/,
            );
            const down = await physioflow(["migrate", "down", "--dir", dir, "--to", "000", "--yes", "--backup-out", backups], db.env);
            assertOneLineError(down, 1, /has no down script/);
            fs.rmSync(path.join(dir, "004_drop_name.sql"));
            const downOk = await physioflow(["migrate", "down", "--dir", dir, "--to", "000", "--yes", "--backup-out", backups], db.env);
            assert.strictEqual(downOk.code, 0, downOk.stderr);
            assert.match(downOk.stdout, /^backup .*local_pre-down-000_\d{8}_\d{6}\.tar\.gz$/m);
            assert.strictEqual(lastLine(downOk.stdout), "database is now at 000 (was 002)");
        } finally {
            fs.rmSync(backups, { recursive: true, force: true });
        }
    });

    it("backs up (path as last stdout line, no password anywhere), refuses an unconfirmed restore without a terminal, restores with --yes", async () => {
        const data = await freshDatabase("cli_backup");
        const dataClient = await data.connect();
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-cli-backups-"));
        try {
            const up = await physioflow(["migrate", "up"], data.env);
            assert.strictEqual(up.code, 0, up.stderr);
            await insertClinicData(dataClient);
            const backup = await physioflow(
                ["backup", "create", "--out", out, "--env", "dev", "--label", "pre-deploy-v1.2.3", "--tags", "api=v1.2.3,web=v1.2.3"],
                data.env,
            );
            assert.strictEqual(backup.code, 0, backup.stderr);
            const archive = lastLine(backup.stdout);
            assert.match(path.basename(archive), /^dev_pre-deploy-v1\.2\.3_\d{8}_\d{6}\.tar\.gz$/);
            assert.ok(fs.existsSync(archive));
            assert.match(backup.stderr, /^backup: pg_dump cli_backup_\d+_\d+ \.\.\. [0-9.]+ (kB|MB) in [0-9.]+ m?s$/m);
            assert.ok(!backup.stdout.includes(data.env.PGPASSWORD) && !backup.stderr.includes(data.env.PGPASSWORD));

            const verify = await physioflow(["backup", "verify", archive]);
            assert.strictEqual(verify.code, 0, verify.stderr);
            assert.match(verify.stdout, /^ok .*: dev\/cli_backup_\d+_\d+ "pre-deploy-v1\.2\.3" taken .*, migration 006,/);

            const before = await snapshot(dataClient);
            await dataClient.query("DELETE FROM audit_logs");
            const changed = await snapshot(dataClient);
            const refused = await physioflow(["backup", "restore", archive, "--env", "dev"], data.env);
            assertOneLineError(refused, 2, /restore replaces the database entirely and there is no terminal to confirm; re-run with --yes/);
            assert.deepStrictEqual(await snapshot(dataClient), changed);

            const restored = await physioflow(["backup", "restore", archive, "--yes", "--env", "dev", "--backup-out", path.join(out, "safety")], data.env);
            assert.strictEqual(restored.code, 0, restored.stderr);
            assert.match(restored.stdout, /^safety backup .*\/safety\/dev_pre-restore_\d{8}_\d{6}\.tar\.gz$/m);
            fs.rmSync(path.join(out, "safety"), { recursive: true });
            assert.match(lastLine(restored.stdout), /^restored cli_backup_\d+_\d+ from .*: migration 006 -> 006, \d+ tables$/);
            assert.deepStrictEqual(await snapshot(dataClient), before);
            // The restored archive is marked kept: retention never prunes it nor counts it.
            assert.match(fs.readFileSync(`${archive}.keep`, "utf8"), /^restored \S+Z by physioflow backup restore\n/);

            fs.copyFileSync(archive, path.join(out, "dev_older_20200101_000000.tar.gz"));
            const kept = await physioflow(["backup", "prune", "--dir", out, "--keep", "1"]);
            assert.strictEqual(kept.code, 0, kept.stderr);
            assert.strictEqual(kept.stdout, "");
            assert.ok(kept.stderr.includes(`backup: kept ${archive} (restored; delete ${path.basename(archive)}.keep to let retention prune it)`), kept.stderr);
            // Deleting the mark releases it.
            fs.unlinkSync(`${archive}.keep`);
            const prune = await physioflow(["backup", "prune", "--dir", out, "--keep", "1"]);
            assert.strictEqual(prune.code, 0, prune.stderr);
            assert.strictEqual(prune.stdout, `pruned ${path.join(out, "dev_older_20200101_000000.tar.gz")}\n`);
            assert.deepStrictEqual(fs.readdirSync(out), [path.basename(archive)]);
        } finally {
            await dataClient.end();
            fs.rmSync(out, { recursive: true, force: true });
        }
    });

    it("connects through DATABASE_URL as well as PG* variables", async () => {
        const { host, port, user, password, database } = db.connection;
        const run = await physioflow(["migrate", "version"], {
            DATABASE_URL: `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
        });
        assert.deepStrictEqual([run.code, run.stdout, run.stderr], [0, "000\n", ""]);
    });

    it("runs as `npx physioflow` from the project root", async () => {
        const run = await new Promise<CliRun>(resolve => {
            execFile("npx", ["--no-install", "physioflow", "--help"], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) =>
                resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
            );
        });
        assert.strictEqual(run.code, 0, run.stderr);
        assert.match(run.stdout, /^Usage: physioflow <command>/);
    });
});
