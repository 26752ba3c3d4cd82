/**
 * A stale checkout (issue 22, defect 7) on the real engine and a real control plane: a stack file
 * put back as it was before the last release (an operator's older checkout) is refused by every
 * release command before anything changes, in one line naming both sides and the fix; `sync`
 * writes the stack's live release state into the file and the next deploy goes ahead; a Service
 * patched by hand (the runbook's emergency) is the truth too. The resume of a deploy cut short,
 * whose stack file is legitimately ahead, is in deploy.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../release/deploy";
import { ReleaseTarget } from "../../release/types";
import { readReleaseRecord } from "../../release/releaseRecord";
import { restoreRollback } from "../../release/restoreRollback";
import { rollback } from "../../release/rollback";
import { apps, releaseFixture } from "../support/releaseFixture";
import { sampleServiceSelectors } from "../support/clusterFaults";

describe("a stale checkout: every release command checks the stack file against the stack's last update and the cluster", function () {
    const f = releaseFixture("staletest");
    const watch = { seconds: 2, intervalMs: 1000 };
    let stackFile: string;
    /** The stack file as it was with blue v1.0.0 live: an operator's checkout from before the next release. */
    let older: string;
    before(() => {
        stackFile = path.join(f.s.dirs.workDir, `Pulumi.${f.s.dirs.stackName}.yaml`);
    });
    /** `api/web`: the colors the live Services select. */
    const selectors = async () => {
        const services = await Promise.all(apps.map(app => f.cluster.getJson(["service", app, "-n", f.namespace])));
        return services.map(service => service.spec.selector.version).join("/");
    };
    /** The live Services' selectors at every change until `stop()` (a watch); resolves to each distinct reading. */
    const sampleSelectors = () => sampleServiceSelectors(f.cluster, f.namespace, apps);
    const staleLine = () =>
        `${stackFile} is out of date: it says blue live with v1.0.0, the stack's last update and the cluster have green live with v1.1.0; ` +
        "run physioflow sync staletest (or pull the latest checkout)";

    it("a deploy from a stack file older than the last release is refused in one line; the live Services never move, the file is untouched, the lock released", async function () {
        this.timeout(6 * 60 * 1000);
        older = fs.readFileSync(stackFile, "utf8");
        const released = await deploy(f.target, "v1.1.0", { watch });
        assert.strictEqual(released.ok, true, released.error);
        await f.live("green");
        f.notifications.length = 0;
        fs.writeFileSync(stackFile, older);

        const sampler = await sampleSelectors();
        let refusal: unknown;
        try {
            const result = await deploy(f.target, "v1.2.0", { watch });
            refusal = `the deploy went ahead: ${JSON.stringify(result.steps.map(step => `${step.step}: ${step.result}`))}`;
        } catch (error) {
            refusal = error;
        }
        const seen = await sampler.stop();
        assert.ok(refusal instanceof Error, String(refusal));
        assert.strictEqual(refusal.message, staleLine());
        assert.deepStrictEqual(seen, ["green/green"], "the live Services moved");
        assert.strictEqual(fs.readFileSync(stackFile, "utf8"), older, "the refusal changed the stack file");
        const state = await f.live("green");
        for (const app of apps) assert.strictEqual(state.deployments[`${app}-green`].image, `registry.local:5000/${app}:v1.1.0`);
        await f.noLock();
        assert.deepStrictEqual(f.events(), []);
    });

    it("a stale rollback, rollback --emergency and rollback --restore are refused the same way: nothing moves, nobody is told", async function () {
        this.timeout(3 * 60 * 1000);
        const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-staletest-"));
        const withDatabase: ReleaseTarget = {
            ...f.target,
            database: {
                connection: { host: "127.0.0.1", port: 9, user: "nobody", database: "nothing" },
                migrationsDir: path.join(__dirname, "..", "..", "migrations"),
                backupDir,
                environment: "local",
                migratesOutsideStack: false,
            },
        };
        try {
            const commands: Array<[string, () => Promise<{ ok: boolean; error?: string }>]> = [
                ["rollback --emergency", () => rollback(f.target, { emergency: true })],
                ["rollback", () => rollback(f.target)],
                ["rollback --restore", () => restoreRollback(withDatabase, path.join(backupDir, "local_manual_20260101_000000.tar.gz"))],
            ];
            for (const [what, run] of commands) {
                const sampler = await sampleSelectors();
                let refusal: unknown;
                try {
                    const result = await run();
                    refusal = `${what} was not refused: ${result.ok ? "it reported success" : result.error}`;
                } catch (error) {
                    refusal = error;
                }
                const seen = await sampler.stop();
                assert.ok(refusal instanceof Error, String(refusal));
                assert.strictEqual(refusal.message, staleLine(), what);
                assert.deepStrictEqual(seen, ["green/green"], `${what}: the live Services moved`);
                await f.noLock();
            }
            assert.strictEqual(fs.readFileSync(stackFile, "utf8"), older, "a refusal changed the stack file");
            assert.deepStrictEqual(fs.readdirSync(backupDir), [], "a refused restore took a backup");
            assert.deepStrictEqual(f.events(), []);
        } finally {
            fs.rmSync(backupDir, { recursive: true, force: true });
        }
    });

    it("sync writes the live release state into the stack file (one line per key), changes nothing the second time, and the next deploy goes ahead", async function () {
        this.timeout(4 * 60 * 1000);
        const { syncCheckout } = await import("../../release/sync");
        const lines: string[] = [];
        const synced = await syncCheckout(f.target, { out: (line: string) => lines.push(line) });
        assert.deepStrictEqual(lines, ["activeColor: blue -> green", "greenTag: v1.0.0 -> v1.1.0", `${stackFile}: 2 settings written`]);
        assert.deepStrictEqual(synced.changes, [
            { key: "activeColor", from: "blue", to: "green" },
            { key: "greenTag", from: "v1.0.0", to: "v1.1.0" },
        ]);
        const config = await f.s.stack.getAllConfig();
        assert.strictEqual(config["physioflow:activeColor"].value, "green");
        assert.strictEqual(config["physioflow:greenTag"].value, "v1.1.0");

        const again: string[] = [];
        const unchanged = await syncCheckout(f.target, { out: (line: string) => again.push(line) });
        assert.deepStrictEqual(unchanged.changes, []);
        assert.deepStrictEqual(again, [`${stackFile} matches the stack's last update and the cluster; nothing changed`]);

        const result = await deploy(f.target, "v1.2.0", { watch, keepWarm: true });
        assert.strictEqual(result.ok, true, result.error);
        assert.deepStrictEqual([result.from, result.to], ["green", "blue"]);
        const state = await f.live("blue");
        for (const app of apps) assert.strictEqual(state.deployments[`${app}-blue`].image, `registry.local:5000/${app}:v1.2.0`);
        assert.deepStrictEqual(f.events(), ["switch green->blue"]);
        assert.strictEqual((await readReleaseRecord(f.cluster.kubectl, f.namespace)).pendingConfig, undefined, "a finished deploy left config pending");
    });

    it("the live Services patched by hand (the runbook's emergency) are the truth: a deploy is refused naming the cluster, sync takes its color, the next deploy goes ahead", async function () {
        this.timeout(4 * 60 * 1000);
        // Blue v1.2.0 live, green v1.1.0 warm: the runbook's `kubectl patch` back to green.
        for (const app of apps) {
            await f.cluster.kubectl(["patch", "service", app, "-n", f.namespace, "--type", "merge", "-p", '{"spec":{"selector":{"version":"green"}}}']);
        }
        await f.live("green");
        const before = fs.readFileSync(stackFile, "utf8");
        await assert.rejects(deploy(f.target, "v1.3.0", { watch }), (error: Error) => {
            assert.strictEqual(
                error.message,
                `${stackFile} is out of date: it says blue live with v1.2.0, the cluster has green live with v1.1.0 (the stack's last update: blue live with v1.2.0); ` +
                    "run physioflow sync staletest (or pull the latest checkout)",
            );
            return true;
        });
        assert.strictEqual(fs.readFileSync(stackFile, "utf8"), before);
        assert.strictEqual(await selectors(), "green/green");
        await f.noLock();

        const { syncCheckout } = await import("../../release/sync");
        const synced = await syncCheckout(f.target, { out: () => undefined });
        assert.deepStrictEqual(synced.changes, [{ key: "activeColor", from: "blue", to: "green" }]);

        const result = await deploy(f.target, "v1.3.0", { watch });
        assert.strictEqual(result.ok, true, result.error);
        assert.deepStrictEqual([result.from, result.to], ["green", "blue"]);
        const state = await f.live("blue");
        for (const app of apps) assert.strictEqual(state.deployments[`${app}-blue`].image, `registry.local:5000/${app}:v1.3.0`);
        assert.strictEqual((await readReleaseRecord(f.cluster.kubectl, f.namespace)).pendingConfig, undefined);
        await f.noLock();
    });
});
