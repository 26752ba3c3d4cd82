import * as assert from "assert";
import { isBuildProgress, parseEngineEnvironment } from "../../devenv/engine";

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
});
