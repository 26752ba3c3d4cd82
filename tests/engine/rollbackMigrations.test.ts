/**
 * A rollback on a checkout with a new migration file runs no backup or migration, on the real
 * engine, a real control plane and a real PostgreSQL, with local's kind of stack: its database is
 * migrated by the deploy's release step (release/releaseDatabase.ts), its stack is the cluster
 * half. Normal, `--emergency` and the watch's automatic rollback leave the archives and the
 * database's version alone and set the stack's `holdMigrations` (under which dev/staging/prod's
 * program keeps DatabaseRelease's triggers: tests/program/migrationHold.test.ts); the next
 * deploy's release step ends the hold and applies the file.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { currentMigrationVersion } from "../../database";
import { deploy } from "../../release/deploy";
import { rollback } from "../../release/rollback";
import { formatStatus, readStatus } from "../../release/status";
import { crashLoopStage } from "../support/clusterFaults";
import { apps, databaseReleaseFixture, releaseFixture } from "../support/releaseFixture";

describe("rollbacks with a new migration file in the checkout: no backup, no migration, the migrations held until the next release step", function () {
    const f = releaseFixture("rollbackmigrationstest");
    const d = databaseReleaseFixture(f, "rollbackmig");
    const namespace = f.namespace;
    const archives = () => (fs.existsSync(d.backupDir) ? fs.readdirSync(d.backupDir).filter(name => name.endsWith(".tar.gz")) : []).sort();
    const held = async () => (await f.s.stack.getAllConfig())["physioflow:holdMigrations"]?.value;
    const configMapVersion = async () => (await f.cluster.getJson(["configmap", "migration-version", "-n", namespace])).data.version as string;
    const addMigration = (version: string, up: string, down: string) => {
        fs.writeFileSync(path.join(d.migrationsDir, `${version}_rollback_test.sql`), up);
        fs.writeFileSync(path.join(d.migrationsDir, "rollback", `${version}_down.sql`), down);
    };

    it("a release applies the pending migration behind a backup, and leaves the migrations unheld", async function () {
        this.timeout(3 * 60 * 1000);
        addMigration("007", "ALTER TABLE patients ADD COLUMN rollback_test_a text;\n", "ALTER TABLE patients DROP COLUMN rollback_test_a;\n");
        const lines: string[] = [];
        const result = await deploy(d.target, "v5.0.0", { watch: { seconds: 3, intervalMs: 1000 }, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
        assert.strictEqual(archives().length, 1, archives().join(", "));
        assert.strictEqual(await currentMigrationVersion(d.connection), "007");
        assert.strictEqual(await held(), "false");
        await f.live("green");
    });

    for (const emergency of [false, true]) {
        const name = emergency ? "rollback --emergency" : "rollback";
        it(`${name} with a new migration file: no backup, the database and the recorded version stay at 007, the migrations held`, async function () {
            this.timeout(3 * 60 * 1000);
            addMigration(emergency ? "009" : "008", "SELECT 1;\n", "SELECT 1;\n");
            const before = archives();
            const [from, to] = (await f.s.stack.getAllConfig())["physioflow:activeColor"].value === "green" ? ["green", "blue"] : ["blue", "green"];
            const lines: string[] = [];
            const result = await rollback(d.target, { emergency, out: line => lines.push(line) });
            assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}`);
            assert.deepStrictEqual([result.from, result.to], [from, to]);
            await f.live(to as "blue" | "green");
            assert.deepStrictEqual(archives(), before, "no backup taken, none pruned");
            assert.strictEqual(await currentMigrationVersion(d.connection), "007");
            assert.strictEqual(await configMapVersion(), "007");
            assert.strictEqual(await held(), "true", "the rollback's update holds the migrations");
            const status = formatStatus(await readStatus(d.target));
            assert.ok(
                status.includes(
                    "  migrations     held at 007 (holdMigrations, set by a rollback): no update backs up or migrates until the next deploy's release step",
                ),
                status.join("\n"),
            );
            await f.noLock();
        });
    }

    it("the next deploy's release step ends the hold and applies the new files behind a backup; the watch's automatic rollback holds them again", async function () {
        // Four stack updates and a watch: on a machine shared with other suites they have taken over 4 minutes.
        this.timeout(10 * 60 * 1000);
        // Green is live again after the emergency rollback: this release goes to blue, which then crash-loops.
        fs.rmSync(path.join(d.migrationsDir, "009_rollback_test.sql"));
        fs.rmSync(path.join(d.migrationsDir, "rollback", "009_down.sql"));
        const before = archives();
        const lines: string[] = [];
        let heldDuringWatch: Promise<string | undefined> | undefined;
        const result = await deploy(d.target, "v6.0.0", {
            watch: { seconds: 20, intervalMs: 1000 },
            out: line => {
                lines.push(line);
                if (line.startsWith("watch: ")) {
                    heldDuringWatch = held();
                    // A file that arrives while the watch runs is not applied by its rollback either.
                    addMigration("009", "SELECT 1;\n", "SELECT 1;\n");
                    void f.cluster
                        .kubectl(["apply", "-f", "-"], crashLoopStage("test-blue-crashes", namespace, { version: "blue" }, { intervalMs: 500 }))
                        .then(() =>
                            f.cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "version=blue,app!=physioflow-smoke", "physioflow-test/crash=true"]),
                        );
                }
            },
        });
        try {
            assert.strictEqual(result.ok, false, lines.join("\n"));
            assert.deepStrictEqual(
                result.steps.map(step => step.step),
                ["release", "switch", "watch", "rollback"],
                lines.join("\n"),
            );
            assert.deepStrictEqual(result.migrations && [result.migrations.from, result.migrations.to], ["007", "008"]);
            assert.strictEqual(await heldDuringWatch, "false", "the release step ended the hold");
            const after = archives();
            assert.strictEqual(after.length, before.length + 1, after.join(", "));
            assert.match(after.filter(name => !before.includes(name))[0], /pre-deploy-v6\.0\.0/);
            const state = await f.live("green");
            for (const app of apps) assert.strictEqual(state.services[app].selector.version, "green");
            assert.strictEqual(await currentMigrationVersion(d.connection), "008", "009 arrived after the release step: the rollback did not apply it");
            assert.strictEqual(await held(), "true", "the automatic rollback holds the migrations again");
            await f.noLock();
        } finally {
            await f.cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-crashes"]);
        }
    });
});
