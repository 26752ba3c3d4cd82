import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main, verifyBackup } from "../../database";
import { CliRun, runInProcess } from "../support/cliRun";
import { freshDatabase } from "../support/postgres";

const DIR = path.join(__dirname, "..", "..", "migrations");

/** The database CLI in-process, with no terminal. */
function run(argv: string[], env: Record<string, string>): Promise<CliRun> {
    return runInProcess(streams => main(argv, { ...streams, env }));
}

describe("migrate up --backup-out (backup always precedes the migration)", function () {
    this.timeout(120_000);

    it("takes a verified backup before the first change, none when there is nothing to do, and the backup restores the pre-migration state", async () => {
        const db = await freshDatabase("release");
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-release-"));
        try {
            const first = await run(["migrate", "up", "--dir", DIR, "--to", "003", "--backup-out", out, "--env", "dev", "--tags", "api=v1.2.3"], db.env);
            assert.strictEqual(first.code, 0, first.stderr);
            const firstArchive = /^backup (.*)$/m.exec(first.stdout)![1];
            assert.match(path.basename(firstArchive), /^dev_pre-migrate-003_\d{8}_\d{6}\.tar\.gz$/);
            assert.strictEqual((await verifyBackup(firstArchive)).metadata.migration_version, "000");
            assert.match(first.stderr, /backup: verified .*\nmigrate: .* at 000, 3 steps to 003/);

            await new Promise(resolve => setTimeout(resolve, 1100)); // archive names have one-second resolution
            const second = await run(["migrate", "up", "--dir", DIR, "--backup-out", out, "--env", "dev", "--label", "pre-deploy-v1.2.4", "--quiet"], db.env);
            assert.strictEqual(second.code, 0, second.stderr);
            assert.strictEqual(second.stderr, "");
            const secondArchive = /^backup (.*)$/m.exec(second.stdout)![1];
            const metadata = (await verifyBackup(secondArchive)).metadata;
            assert.deepStrictEqual([metadata.label, metadata.migration_version, metadata.image_tags], ["pre-deploy-v1.2.4", "003", {}]);
            assert.strictEqual(second.stdout.trim().split("\n").pop(), "database is now at 006 (was 003)");

            const third = await run(["migrate", "up", "--dir", DIR, "--backup-out", out, "--quiet"], db.env);
            assert.deepStrictEqual([third.code, third.stdout], [0, "nothing to do: database is at 006\n"]);
            assert.strictEqual(fs.readdirSync(out).length, 2);

            const restore = await run(
                ["backup", "restore", secondArchive, "--yes", "--env", "dev", "--backup-out", path.join(out, "safety"), "--quiet"],
                db.env,
            );
            assert.strictEqual(restore.code, 0, restore.stderr);
            const version = await run(["migrate", "version"], db.env);
            assert.strictEqual(version.stdout, "003\n");
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });
});
