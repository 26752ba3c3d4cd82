/**
 * devenv/engineTemp.ts: the engine's temp directory (where the kubernetes provider leaves its
 * kubeconfig copies) is private, removed when its process exits, and removed by a later process
 * when its own was killed first.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ownerPid, removeOrphans } from "../../devenv/engineTemp";

const module_ = path.resolve(__dirname, "../../devenv/engineTemp");
const node = (script: string) => spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { encoding: "utf8" });

/** A pid no process has (one that just exited). */
async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", ""]);
    await new Promise(resolve => child.on("exit", resolve));
    return child.pid!;
}

describe("the engine's temp directory (devenv/engineTemp.ts)", function () {
    let base: string;
    beforeEach(() => (base = fs.mkdtempSync(path.join(os.tmpdir(), "engine-temp-test-"))));
    afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

    it("is made 0700 in TMPDIR, is the TMPDIR withEngineTemp passes on, and is removed with what is in it when the process exits", () => {
        const run = node(
            `const t = require(${JSON.stringify(module_)}); const dir = t.engineTempDir();` +
                `require("fs").writeFileSync(require("path").join(dir, "kubeconfig123"), "secret");` +
                `console.log(JSON.stringify({ dir, env: t.withEngineTemp({ A: "1" }), mode: require("fs").statSync(dir).mode & 0o777 }));`,
        );
        assert.strictEqual(run.status, 0, run.stderr);
        const seen = JSON.parse(run.stdout);
        assert.strictEqual(path.dirname(seen.dir), os.tmpdir());
        assert.deepStrictEqual(seen.env, { A: "1", TMPDIR: seen.dir });
        assert.strictEqual(seen.mode, 0o700);
        assert.ok(!fs.existsSync(seen.dir), `${seen.dir} is left after its process exited`);
    });

    it("a killed process's directory is removed by the next one; a live process's and other names are left", async () => {
        const dead = path.join(base, `physioflow-pulumi-tmp-${await deadPid()}-AbC123`);
        const live = path.join(base, `physioflow-pulumi-tmp-${process.ppid}-xYz789`);
        const other = path.join(base, "physioflow-pulumi-tmp-notes");
        for (const dir of [dead, live, other]) {
            fs.mkdirSync(dir);
            fs.writeFileSync(path.join(dir, "kubeconfig1"), "x");
        }
        removeOrphans(base);
        assert.deepStrictEqual(fs.readdirSync(base).sort(), [path.basename(live), path.basename(other)].sort());
    });

    it("engineTempDir removes the orphans of its base before it makes its own", async () => {
        const dead = path.join(base, `physioflow-pulumi-tmp-${await deadPid()}-AbC123`);
        fs.mkdirSync(dead);
        const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", `require(${JSON.stringify(module_)}).engineTempDir()`], {
            env: { ...process.env, TMPDIR: base },
            encoding: "utf8",
        });
        assert.strictEqual(run.status, 0, run.stderr);
        // Its own directory went with it too (ts-node's compile cache may be there: not ours).
        assert.deepStrictEqual(
            fs.readdirSync(base).filter(name => name.startsWith("physioflow-pulumi-tmp-")),
            [],
        );
    });

    it("ownerPid reads only its own names", () => {
        assert.strictEqual(ownerPid("physioflow-pulumi-tmp-4242-a1B2c3"), 4242);
        for (const name of ["physioflow-pulumi-tmp-4242-a1B2c", "physioflow-pulumi-tmp-x-a1B2c3", "kubeconfig4242", "physioflow-pulumi-tmp-4242-a1B2c3/x"]) {
            assert.strictEqual(ownerPid(name), undefined, name);
        }
    });
});
