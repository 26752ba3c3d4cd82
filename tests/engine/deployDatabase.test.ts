/**
 * `deploy` and `rollback --restore` with the stack's database, on the real engine, a real control
 * plane and a real PostgreSQL: pending migrations linted before anything changes, the release
 * step's backup and migration (local's way), the database's version in `status`, and the
 * runbook's scenario 2 (restore, then the archive's color live).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { currentMigrationVersion, migrateUp } from "../../database";
import { readClusterState } from "../../release/clusterState";
import { deploy, DeployRefusedError, ReleaseTarget } from "../../release/deploy";
import { changedSteps } from "../../release/engineEvents";
import { restoreRollback } from "../../release/restoreRollback";
import { formatStatus, readStatus } from "../../release/status";
import { freshDatabase } from "../support/postgres";
import { releaseFixture } from "../support/releaseFixture";

describe("deploy and rollback with the stack's database: a real PostgreSQL, migrated by the deploy as local's is", function () {
    const f = releaseFixture("deploydbtest");
    const namespace = f.namespace;
    const watch = { seconds: 3, intervalMs: 300 };
    let dbTarget: ReleaseTarget;
    let migrationsDir: string;
    let backupDir: string;
    let connection: Awaited<ReturnType<typeof freshDatabase>>["connection"];
    let work: string | undefined;
    before(async function () {
        this.timeout(2 * 60 * 1000);
        const db = await freshDatabase("deploy");
        connection = db.connection;
        work = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-deploy-db-"));
        migrationsDir = path.join(work, "migrations");
        backupDir = path.join(work, "backups");
        fs.cpSync(path.join(__dirname, "../../migrations"), migrationsDir, { recursive: true });
        await migrateUp({ dir: migrationsDir, connection });
        // The stack records what the database is at (npm run local does the same).
        await f.s.set({ migrationTarget: "006" });
        await f.s.up();
        dbTarget = {
            ...f.target,
            database: { connection, migrationsDir, backupDir, environment: "local", migratesOutsideStack: true },
            useMigrationVersion: version => f.s.set({ migrationTarget: version }),
        };
    });
    // The migrations copy and the backups (test data, but patient-shaped) do not outlive the suite.
    after(() => {
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    it("a pending migration that would break the live color, or that the runner would refuse, stops the deploy before any backup or change", async () => {
        fs.writeFileSync(path.join(migrationsDir, "007_drop_patient_notes.sql"), "ALTER TABLE patients DROP COLUMN notes;\n");
        await assert.rejects(
            deploy(dbTarget, "v5.0.0", { watch }),
            (error: Error) =>
                error instanceof DeployRefusedError &&
                /^the migrations would be refused: .*007_drop_patient_notes\.sql: has no down script; .*; nothing changed, no backup taken$/.test(
                    error.message,
                ),
        );
        fs.writeFileSync(path.join(migrationsDir, "rollback/007_down.sql"), "SELECT 1;\n");
        const before = await f.s.stack.getAllConfig();
        const lines: string[] = [];
        try {
            await assert.rejects(
                deploy(dbTarget, "v5.0.0", { watch, out: line => lines.push(line) }),
                (error: Error) =>
                    error instanceof DeployRefusedError &&
                    /^pending migration would break the live color: .*007_drop_patient_notes\.sql:1 \[ban-drop-column\] .*; nothing changed, no backup taken/.test(
                        error.message,
                    ),
            );
            assert.ok(
                lines.some(line => /^migrations: FAIL +.*007_drop_patient_notes\.sql/.test(line)),
                lines.join("\n"),
            );
            assert.deepStrictEqual(await f.s.stack.getAllConfig(), before);
            assert.strictEqual(fs.existsSync(backupDir) ? fs.readdirSync(backupDir).length : 0, 0, "no backup");
            assert.strictEqual(await currentMigrationVersion(connection), "006");
            await f.noLock();
        } finally {
            fs.rmSync(path.join(migrationsDir, "007_drop_patient_notes.sql"));
            fs.rmSync(path.join(migrationsDir, "rollback/007_down.sql"));
        }
    });

    it("a release with a pending migration: verified backup, migration, both colors smoke-tested at the new version, switch", async function () {
        this.timeout(3 * 60 * 1000);
        fs.cpSync(
            path.join(__dirname, "../../demo/migrations/007_demo_patient_release_note.sql"),
            path.join(migrationsDir, "007_demo_patient_release_note.sql"),
        );
        fs.cpSync(path.join(__dirname, "../../demo/migrations/rollback/007_down.sql"), path.join(migrationsDir, "rollback/007_down.sql"));
        const lines: string[] = [];
        const result = await deploy(dbTarget, "v5.0.0", { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
        assert.ok(lines.includes("migrations: database at 006; 1 migration(s) pending to 007: 007_demo_patient_release_note.sql"), lines.join("\n"));
        const backups = fs.readdirSync(backupDir).filter(name => name.endsWith(".tar.gz"));
        assert.strictEqual(backups.length, 1, backups.join(", "));
        assert.match(backups[0], /pre-deploy-v5\.0\.0/);
        assert.deepStrictEqual(
            { ...result.migrations, backup: path.basename(result.migrations!.backup!) },
            { from: "006", to: "007", pending: ["007"], backup: backups[0] },
        );
        // The backup came first: before the migration line.
        const backupAt = lines.findIndex(line => /^  backup: /.test(line));
        const migratedAt = lines.findIndex(line => /^  migrate: applied .*007_demo_patient_release_note\.sql/.test(line));
        assert.ok(backupAt !== -1 && backupAt < migratedAt, lines.join("\n"));
        assert.strictEqual(await currentMigrationVersion(connection), "007");
        const state = await readClusterState(f.cluster.kubectl, namespace);
        assert.strictEqual((await f.cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version, "007");
        // The live color of the time (blue) was smoke-tested again at 007 in the release step, before the switch; the new one too.
        const release = result.steps[0].changes.join("\n");
        for (const color of ["blue", "green"]) assert.match(release, new RegExp(`^\\S+ +Job +physioflow-smoke-${color}\\b`, "m"), release);
        assert.deepStrictEqual([state.jobs["physioflow-smoke-green"]?.migrationVersion, state.jobs["physioflow-smoke-green"]?.status], ["007", "succeeded"]);
        assert.strictEqual(state.services["physioflow-api"].selector.version, "green");
        await f.noLock();
    });

    it("status shows the database's migration version beside the ConfigMap's and the stack's, and flags a database ahead of them", async () => {
        const lines = formatStatus(await readStatus(dbTarget));
        assert.ok(lines.includes("  migration      007 in the database, 007 in ConfigMap migration-version, 007 in the stack output"), lines.join("\n"));
        fs.writeFileSync(path.join(migrationsDir, "008_patient_flag.sql"), "ALTER TABLE patients ADD COLUMN flagged boolean;\n");
        fs.writeFileSync(path.join(migrationsDir, "rollback/008_down.sql"), "ALTER TABLE patients DROP COLUMN flagged;\n");
        await migrateUp({ dir: migrationsDir, connection });
        const flagged = formatStatus(await readStatus(dbTarget)).filter(line => line.startsWith("!"));
        assert.deepStrictEqual(flagged, ["! migration      008 in the database, 007 in ConfigMap migration-version, 007 in the stack output"]);
        assert.deepStrictEqual(
            formatStatus(await readStatus(f.target)).filter(line => line.startsWith("!")),
            [],
            "without a database the line is as before",
        );
    });

    it("rollback --restore: verify, safety backup, API off the database, restore, then the color of the archive's tag goes live at the archive's version", async function () {
        this.timeout(3 * 60 * 1000);
        const archive = path.join(
            backupDir,
            fs.readdirSync(backupDir).find(name => /pre-deploy-v5\.0\.0.*\.tar\.gz$/.test(name))!,
        );
        // Another environment's archive is refused before anything changes.
        const foreign = await restoreRollback({ ...dbTarget, database: { ...dbTarget.database!, environment: "prod" } }, archive);
        assert.strictEqual(foreign.ok, false);
        assert.match(foreign.error!, /is a backup of "local", not "prod"; nothing changed$/);
        assert.strictEqual(await currentMigrationVersion(connection), "008");
        await f.noLock();

        const lines: string[] = [];
        let apiPodsDuringRestore: Promise<number> | undefined;
        const result = await restoreRollback(dbTarget, archive, {
            out: line => {
                lines.push(line);
                if (line.startsWith("restore: ")) {
                    apiPodsDuringRestore = f.cluster.getJson(["pods", "-n", namespace, "-l", "app=physioflow-api"]).then(list => list.items.length);
                }
            },
        });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["verify", "backup", "restore", "switch"],
        );
        assert.deepStrictEqual([result.from, result.to, result.migrationVersion], ["green", "blue", "006"]);
        assert.ok(lines.includes("api: off the database (physioflow-api-blue 0 -> 0, physioflow-api-green 1 -> 0)"), lines.join("\n"));
        assert.strictEqual(await apiPodsDuringRestore, 0, "no API pod while the database was replaced");
        assert.strictEqual(await currentMigrationVersion(connection), "006");
        assert.match(path.basename(result.safetyBackup!), /pre-restore/);
        assert.ok(fs.existsSync(result.safetyBackup!));
        const state = await f.live("blue");
        assert.strictEqual(state.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v1.0.0");
        assert.strictEqual((await f.cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version, "006");
        assert.deepStrictEqual(changedSteps((await f.s.preview()).steps), [], "the stack matches the cluster after the scale down and back");
        assert.deepStrictEqual(f.events().slice(-1), ["restore-rollback green->blue"]);
        await f.noLock();
    });
});
