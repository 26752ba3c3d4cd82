import * as assert from "assert";
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";
import { findEngine, isBuildProgress, parseEngineEnvironment } from "../../devenv/engine";

const marker = "--physioflow-engine--";
const env = (vars: Record<string, string>) =>
    Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\0`)
        .join("");

describe("engine environment from scripts/engine.sh --env", () => {
    it("returns what the exports added or changed, and the pulumi it put on PATH", () => {
        const before = env({ PATH: "/usr/bin", HOME: "/root", MULTI: "a\nb" });
        const after = env({ PATH: "/cache/bin:/usr/bin", HOME: "/root", MULTI: "a\nb", PULUMI_SKIP_UPDATE_CHECK: "true" });
        const parsed = parseEngineEnvironment(`${before}${marker}\0${after}${marker}\0/cache/bin/pulumi\n`);
        assert.deepStrictEqual(parsed, {
            env: { PATH: "/cache/bin:/usr/bin", PULUMI_SKIP_UPDATE_CHECK: "true" },
            pulumiPath: "/cache/bin/pulumi",
        });
    });

    it("an empty path when no pulumi is on PATH", () => {
        assert.strictEqual(parseEngineEnvironment(`${marker}\0${marker}\0`).pulumiPath, "");
    });

    it("refuses output without the environment", () => {
        assert.throws(() => parseEngineEnvironment("garbage"), /unexpected output from scripts\/engine.sh --env/);
    });

    it("shows build progress, not the warnings printed on every run", () => {
        assert.ok(isBuildProgress("[engine] cli: building the pulumi CLI v3.248.0 (...) ..."));
        assert.ok(isBuildProgress("[engine] cli: done in 215s"));
        assert.ok(!isBuildProgress("[engine] WARNING: no pulumi-resource-command plugin: ..."));
        assert.ok(!isBuildProgress("[engine] cli: cached (/root/.cache/physioflow/engine-3.248.0-nodejs3.68.0-k8s-f47bc2d6f199-r1/bin/pulumi)"));
    });

    it("runs of --env at the same time all print the same exports: one rewriting the env file never shows another an empty one", async function () {
        this.timeout(20 * 60 * 1000); // builds the engine when it is missing, as every engine test does
        await findEngine();
        const script = path.resolve(__dirname, "../../scripts/engine.sh");
        const run = () => promisify(execFile)("bash", [script, "--env"]).then(({ stdout }) => stdout);
        for (let round = 0; round < 3; round++) {
            const outputs = await Promise.allSettled(Array.from({ length: 16 }, run));
            const failed = outputs.flatMap(o => (o.status === "rejected" ? [String(o.reason).split("\n")[0]] : []));
            assert.deepStrictEqual(failed, [], `round ${round}`);
            const distinct = new Set(outputs.flatMap(o => (o.status === "fulfilled" ? [o.value] : [])));
            assert.strictEqual(distinct.size, 1, [...distinct].join("\n---\n"));
            assert.match([...distinct][0], /^export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true$/m);
        }
    });
});
