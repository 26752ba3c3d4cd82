/**
 * `deploy` and `rollback --restore` with the stack's database, on the real engine, a real control
 * plane and a real PostgreSQL: pending migrations linted before anything changes, the release
 * step's backup and migration (local's way), the database's version in `status`, and the
 * runbook's scenario 2 (restore, then the archive's color live).
 */
import * as assert from "assert";
import * as crypto from "crypto";
import { EventEmitter } from "events";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import { spawn } from "child_process";
import { createBackup, currentMigrationVersion, migrateUp, verifyBackup } from "../../database";
import { readClusterState } from "../../release/clusterState";
import { deploy } from "../../release/deploy";
import { DeployRefusedError } from "../../release/types";
import { changedSteps } from "../../release/engineEvents";
import { restoreRollback } from "../../release/restoreRollback";
import { rollback } from "../../release/rollback";
import { formatStatus, readStatus } from "../../release/status";
import { databaseReleaseFixture, releaseFixture } from "../support/releaseFixture";

describe("deploy and rollback with the stack's database: a real PostgreSQL, migrated by the deploy as local's is", function () {
    const f = releaseFixture("deploydbtest");
    const d = databaseReleaseFixture(f, "deploy");
    const namespace = f.namespace;
    const watch = { seconds: 3, intervalMs: 1000 };

    it("a rollback that cannot read the stack's settings refuses and leaves no deploy lock behind", async () => {
        await f.s.set({ activeColor: "purple" });
        try {
            await assert.rejects(rollback(f.target), /^DeployRefusedError: physioflow:activeColor is "purple"; allowed values: blue, green$/);
            await f.noLock();
        } finally {
            await f.s.set({ activeColor: "blue" });
            // A leaked lock would fail every later test of the suite instead of this one alone.
            await f.cluster.kubectl(["delete", "lease", "physioflow-deploy", "-n", namespace, "--ignore-not-found"]);
        }
    });

    it("a pending migration that would break the live color, or that the runner would refuse, stops the deploy before any backup or change", async () => {
        fs.writeFileSync(path.join(d.migrationsDir, "007_drop_patient_notes.sql"), "ALTER TABLE patients DROP COLUMN notes;\n");
        await assert.rejects(
            deploy(d.target, "v5.0.0", { watch }),
            (error: Error) =>
                error instanceof DeployRefusedError &&
                /^the migrations would be refused: .*007_drop_patient_notes\.sql: has no down script; .*; nothing changed, no backup taken$/.test(
                    error.message,
                ),
        );
        fs.writeFileSync(path.join(d.migrationsDir, "rollback/007_down.sql"), "SELECT 1;\n");
        const before = await f.s.stack.getAllConfig();
        const lines: string[] = [];
        try {
            await assert.rejects(
                deploy(d.target, "v5.0.0", { watch, out: line => lines.push(line) }),
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
            assert.strictEqual(fs.existsSync(d.backupDir) ? fs.readdirSync(d.backupDir).length : 0, 0, "no backup");
            assert.strictEqual(await currentMigrationVersion(d.connection), "006");
            await f.noLock();
        } finally {
            fs.rmSync(path.join(d.migrationsDir, "007_drop_patient_notes.sql"));
            fs.rmSync(path.join(d.migrationsDir, "rollback/007_down.sql"));
        }
    });

    it("a release with a pending migration: verified backup, migration, both colors smoke-tested at the new version, switch", async function () {
        this.timeout(6 * 60 * 1000);
        fs.cpSync(
            path.join(__dirname, "../../demo/migrations/007_demo_patient_release_note.sql"),
            path.join(d.migrationsDir, "007_demo_patient_release_note.sql"),
        );
        fs.cpSync(path.join(__dirname, "../../demo/migrations/rollback/007_down.sql"), path.join(d.migrationsDir, "rollback/007_down.sql"));
        const lines: string[] = [];
        const result = await deploy(d.target, "v5.0.0", { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
        assert.ok(lines.includes("migrations: database at 006; 1 migration(s) pending to 007: 007_demo_patient_release_note.sql"), lines.join("\n"));
        const backups = fs.readdirSync(d.backupDir).filter(name => name.endsWith(".tar.gz"));
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
        assert.strictEqual(await currentMigrationVersion(d.connection), "007");
        // The archive records both colors as the release step set them, and which one was live.
        const { metadata } = await verifyBackup(path.join(d.backupDir, backups[0]));
        assert.deepStrictEqual(
            [metadata.colors, metadata.live, metadata.image_tags],
            [{ blue: "v1.0.0", green: "v5.0.0" }, "blue", { api: "v1.0.0", web: "v1.0.0" }],
        );
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
        const lines = formatStatus(await readStatus(d.target));
        assert.ok(lines.includes("  migration      007 in the database, 007 in ConfigMap migration-version, 007 in the stack output"), lines.join("\n"));
        fs.writeFileSync(path.join(d.migrationsDir, "008_patient_flag.sql"), "ALTER TABLE patients ADD COLUMN flagged boolean;\n");
        fs.writeFileSync(path.join(d.migrationsDir, "rollback/008_down.sql"), "ALTER TABLE patients DROP COLUMN flagged;\n");
        await migrateUp({ dir: d.migrationsDir, connection: d.connection });
        const flagged = formatStatus(await readStatus(d.target)).filter(line => line.startsWith("!"));
        assert.deepStrictEqual(flagged, ["! migration      008 in the database, 007 in ConfigMap migration-version, 007 in the stack output"]);
        assert.deepStrictEqual(
            formatStatus(await readStatus(f.target)).filter(line => line.startsWith("!")),
            [],
            "without a database the line is as before",
        );
    });

    it("rollback --restore: verify, safety backup, API off the database, restore, then the color of the archive's tag goes live at the archive's version", async function () {
        this.timeout(6 * 60 * 1000);
        const archive = path.join(
            d.backupDir,
            fs.readdirSync(d.backupDir).find(name => /pre-deploy-v5\.0\.0.*\.tar\.gz$/.test(name))!,
        );
        // Another environment's archive is refused before anything changes.
        const foreign = await restoreRollback({ ...d.target, database: { ...d.target.database!, environment: "prod" } }, archive);
        assert.strictEqual(foreign.ok, false);
        assert.match(foreign.error!, /is a backup of "local", not "prod"; nothing changed$/);
        assert.ok(!fs.existsSync(`${archive}.keep`), "a refused restore marks nothing");
        // A damaged archive (`--restore latest` when the newest is damaged) is refused at the verify
        // step naming what the command found to use instead; nothing changes.
        const damagedDir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-damaged-"));
        try {
            const damaged = path.join(damagedDir, path.basename(archive));
            const bytes = fs.readFileSync(archive);
            bytes[Math.floor(bytes.length / 2)] ^= 0xff;
            fs.writeFileSync(damaged, bytes, { mode: 0o600 });
            const hint = "the next newest backup of local is ARCHIVE (manual, migration 007): rollback --restore ARCHIVE";
            const refused = await restoreRollback(d.target, damaged, { ifArchiveDamaged: hint });
            assert.strictEqual(refused.ok, false);
            assert.deepStrictEqual(
                refused.steps.map(step => step.step),
                ["verify"],
            );
            assert.match(refused.steps[0].result, /^failed: /);
            assert.match(refused.error!, new RegExp(`is damaged.*; ${hint.replace(/[()]/g, "\\$&")}$`));
        } finally {
            fs.rmSync(damagedDir, { recursive: true, force: true });
        }
        assert.strictEqual(await currentMigrationVersion(d.connection), "008");
        await f.noLock();

        const lines: string[] = [];
        let apiPodsDuringRestore: Promise<number> | undefined;
        let markedBeforeRestore: boolean | undefined;
        const result = await restoreRollback(d.target, archive, {
            out: line => {
                lines.push(line);
                if (line.startsWith("  backup: restoring ")) markedBeforeRestore = fs.existsSync(`${archive}.keep`);
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
        assert.ok(lines.includes("api: back on the database (physioflow-api-blue 0, physioflow-api-green 1)"), lines.join("\n"));
        assert.ok(
            lines.some(line => / taken while blue ran v1\.0\.0 \(live\) and green v5\.0\.0$/.test(line)),
            lines.join("\n"),
        );
        assert.strictEqual(await apiPodsDuringRestore, 0, "no API pod while the database was replaced");
        // The restored archive is marked kept (retention never prunes it), before the restore ran.
        assert.strictEqual(markedBeforeRestore, true, lines.join("\n"));
        assert.match(fs.readFileSync(`${archive}.keep`, "utf8"), /^restored \S+Z by physioflow rollback \S+ --restore\n/);
        assert.strictEqual(await currentMigrationVersion(d.connection), "006");
        assert.match(path.basename(result.safetyBackup!), /pre-restore/);
        // The safety backup records the colors as they were before the restore: green live.
        const safety = (await verifyBackup(result.safetyBackup!)).metadata;
        assert.deepStrictEqual([safety.colors, safety.live, safety.migration_version], [{ blue: "v1.0.0", green: "v5.0.0" }, "green", "008"]);
        const state = await f.live("blue");
        assert.strictEqual(state.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v1.0.0");
        assert.strictEqual((await f.cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version, "006");
        assert.deepStrictEqual(changedSteps((await f.s.preview()).steps), [], "the stack matches the cluster after the scale down and back");
        assert.deepStrictEqual(f.events().slice(-1), ["restore-rollback green->blue"]);
        await f.noLock();
    });

    const archives = () => fs.readdirSync(d.backupDir).filter(name => name.endsWith(".tar.gz"));
    const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    const oldestArchive = () =>
        path.join(
            d.backupDir,
            archives().find(name => /pre-deploy-v5\.0\.0/.test(name))!,
        );

    it("a restore of the oldest of ten archives: every archive kept, the restored one unchanged, nothing pruned", async function () {
        this.timeout(5 * 60 * 1000);
        // With the release's and the first restore's backups, eight more make ten: the default keep.
        for (let i = 1; i <= 8; i++) {
            await createBackup({
                connection: d.connection,
                outDir: d.backupDir,
                environment: "local",
                label: `manual-${i}`,
                now: () => new Date(Date.now() + i * 60_000),
            });
        }
        const before = archives();
        assert.strictEqual(before.length, 10, before.join(", "));
        const oldest = oldestArchive();
        const hash = sha256(oldest);
        const lines: string[] = [];
        // blue runs v1.0.0, the archive's live tag, and is live: the restore keeps it live.
        const result = await restoreRollback(d.target, oldest, { out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
        assert.deepStrictEqual([result.from, result.to, result.migrationVersion], ["blue", "blue", "006"]);
        assert.deepStrictEqual(archives().sort(), [...before, path.basename(result.safetyBackup!)].sort(), "nothing pruned, the safety backup added");
        assert.strictEqual(sha256(oldest), hash, "the restored archive is unchanged");
        assert.ok(!lines.some(line => /pruned/.test(line)), lines.join("\n"));
        await f.noLock();
    });

    it("an archive that records no tags is refused naming --color before anything changes; --color chooses", async function () {
        this.timeout(5 * 60 * 1000);
        const manual = path.join(
            d.backupDir,
            archives().find(name => /_manual-1_/.test(name))!,
        );
        const count = archives().length;
        const refused = await restoreRollback(d.target, manual);
        assert.strictEqual(refused.ok, false);
        assert.match(
            refused.error!,
            /^local_manual-1_\d{8}_\d{6}\.tar\.gz records no image tags, so the color that runs its schema is unknown; choose the color to bring back with --color blue\|green$/,
        );
        assert.deepStrictEqual(
            [refused.steps.map(step => [step.step, step.outcome.kind]), archives().length],
            [[["verify", "failed"]], count],
            "the verify step failed, no safety backup",
        );
        assert.deepStrictEqual(refused.live, { color: "blue" }, "the failed step reads the live color back");
        await f.noLock();
        const chosen = await restoreRollback(d.target, manual, { color: "blue" });
        assert.strictEqual(chosen.ok, true, chosen.error);
        assert.deepStrictEqual([chosen.from, chosen.to, chosen.migrationVersion], ["blue", "blue", "006"]);
        await f.noLock();
    });

    it("a restore stopped in the scale-down wait (a timeout, SIGINT, a real SIGTERM to its process) gives the API its replicas back and says so", async function () {
        this.timeout(6 * 60 * 1000);
        const replicas = async () => {
            const spec = async (color: string) => (await f.cluster.getJson(["deployment", `physioflow-api-${color}`, "-n", namespace])).spec.replicas;
            return { blue: await spec("blue"), green: await spec("green") };
        };
        const before = await replicas();
        assert.deepStrictEqual(before, { blue: 1, green: 0 });
        // A pod that will not go away with the scale: one of the API's labels that no Deployment owns.
        const stray = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "physioflow-api-stray", namespace, labels: { app: "physioflow-api", version: "stray" } },
            spec: { containers: [{ name: "api", image: "registry.local:5000/physioflow-api:v1.0.0" }] },
        };
        await f.cluster.kubectl(["apply", "-f", "-"], JSON.stringify(stray));
        const version = await currentMigrationVersion(d.connection);
        // An archive of its own and the color given: this test needs nothing of the ones before it.
        const archive = (await createBackup({ connection: d.connection, outDir: d.backupDir, environment: "local", label: "interrupted" })).archivePath;
        try {
            const lines: string[] = [];
            const timedOut = await restoreRollback(d.target, archive, { color: "blue", scaleDownTimeoutMs: 2000, out: line => lines.push(line) });
            assert.strictEqual(timedOut.ok, false);
            assert.strictEqual(timedOut.error, "the API's pods did not stop within 2 s (1 left); nothing restored; the API has its replicas back");
            assert.ok(lines.includes("api: back on the database (physioflow-api-blue 1, physioflow-api-green 0)"), lines.join("\n"));
            assert.deepStrictEqual(await replicas(), before);
            await f.noLock();

            const signals = new EventEmitter();
            const heard: string[] = [];
            const interrupted = await restoreRollback(d.target, archive, {
                color: "blue",
                signals,
                out: line => {
                    heard.push(line);
                    if (line.startsWith("api: off the database")) setTimeout(() => signals.emit("SIGINT", "SIGINT"), 500);
                },
            });
            assert.strictEqual(interrupted.ok, false);
            assert.strictEqual(interrupted.error, "interrupted by SIGINT before the restore, nothing restored; the API has its replicas back");
            assert.ok(heard.includes("SIGINT: stopping; the API gets its replicas back first"), heard.join("\n"));
            assert.deepStrictEqual(await replicas(), before);
            assert.deepStrictEqual([signals.listenerCount("SIGINT"), signals.listenerCount("SIGTERM")], [0, 0]);
            assert.strictEqual(await currentMigrationVersion(d.connection), version);
            await f.noLock();

            // The same from the outside: a real SIGTERM to a process running the restore.
            const child = spawn(
                process.execPath,
                [
                    "-r",
                    "ts-node/register/transpile-only",
                    path.join(__dirname, "../support/restoreChild.ts"),
                    JSON.stringify({
                        stack: f.s.dirs,
                        kubectl: path.join(f.cluster.binDir, "kubectl"),
                        kubeconfig: f.cluster.kubeconfigPath,
                        namespace,
                        database: { ...d.target.database },
                        archive,
                        color: "blue",
                        scaleDownTimeoutMs: 60_000,
                    }),
                ],
                { detached: true, stdio: ["ignore", "pipe", "inherit"], cwd: path.join(__dirname, "..", "..") },
            );
            const childLines: string[] = [];
            const exited = new Promise<number | null>(resolve => child.on("exit", code => resolve(code)));
            readline.createInterface({ input: child.stdout }).on("line", line => {
                childLines.push(line);
                if (line.startsWith("api: off the database")) setTimeout(() => process.kill(child.pid!, "SIGTERM"), 500);
            });
            await exited;
            const last = childLines[childLines.length - 1] ?? "";
            assert.ok(last.startsWith("result: "), childLines.join("\n"));
            assert.strictEqual(
                JSON.parse(last.slice("result: ".length)).error,
                "interrupted by SIGTERM before the restore, nothing restored; the API has its replicas back",
            );
            assert.ok(childLines.includes("api: back on the database (physioflow-api-blue 1, physioflow-api-green 0)"), childLines.join("\n"));
            assert.deepStrictEqual(await replicas(), before);
            await f.noLock();
        } finally {
            await f.cluster.kubectl([
                "delete",
                "pod",
                "physioflow-api-stray",
                "-n",
                namespace,
                "--grace-period=0",
                "--force",
                "--wait=false",
                "--ignore-not-found",
            ]);
        }
    });
});
