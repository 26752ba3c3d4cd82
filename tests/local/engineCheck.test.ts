/** devenv/engineCheck.ts (scripts/engine.sh --check): its program, where it finds plugins, and the pins it looks them up at. */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineCheckProgram, findPlugin } from "../../devenv/engineCheck";

const repoRoot = path.resolve(__dirname, "..", "..");

describe("engine check (scripts/engine.sh --check)", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-engine-check-test-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const executable = (file: string) => {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
        return file;
    };

    it("renders a ConfigMap always; a command and a postgresql Role and Database only when their plugins are there", () => {
        const bare = engineCheckProgram({ command: false, postgresql: false });
        assert.match(bare, /new k8s\.core\.v1\.ConfigMap\("engine-check"/);
        assert.match(bare, /renderYamlToDirectory: process\.env\.ENGINE_CHECK_RENDER_DIR!/);
        assert.doesNotMatch(bare, /@pulumi\/command|@pulumi\/postgresql/);
        const full = engineCheckProgram({ command: true, postgresql: true });
        assert.match(full, /new command\.local\.Command\("engine-check", \{ create: "echo engine-check-ok" \}\)/);
        assert.match(full, /new postgresql\.Database\("engine-check", \{ name: "engine_check", owner: role\.name \}/);
        assert.match(full, /password: pulumi\.secret\(process\.env\.ENGINE_CHECK_PG_PASSWORD!\)/, "the password comes from the environment, as a secret");
    });

    it("finds a plugin on PATH, a language host beside pulumi, or one in the plugin cache at the SDK's version", () => {
        const pulumiPath = executable(path.join(dir, "engine", "pulumi"));
        const langhost = executable(path.join(dir, "engine", "pulumi-language-nodejs"));
        const ambient = executable(path.join(dir, "path", "pulumi-resource-kubernetes"));
        const cached = executable(path.join(dir, "plugins", "resource-command-v1.2.1", "pulumi-resource-command"));
        const places = { pathVariable: `/nonexistent:${path.join(dir, "path")}`, pulumiPath, pluginsDir: path.join(dir, "plugins") };
        assert.strictEqual(findPlugin("language", "nodejs", "", places), langhost);
        assert.strictEqual(findPlugin("resource", "kubernetes", "4.34.2", places), ambient);
        assert.strictEqual(findPlugin("resource", "command", "1.2.1", places), cached);
        assert.strictEqual(findPlugin("resource", "command", "1.2.0", places), undefined, "another version in the cache is not it");
        assert.strictEqual(findPlugin("resource", "postgresql", "3.18.1", places), undefined);
        fs.writeFileSync(path.join(dir, "plugins", "resource-command-v1.2.1.partial"), "");
        assert.strictEqual(findPlugin("resource", "command", "1.2.1", places), undefined, "a download in progress is not a plugin");
    });

    it("engine.sh looks the plugins up at the versions package.json pins", () => {
        const script = fs.readFileSync(path.join(repoRoot, "scripts", "engine.sh"), "utf8");
        const pins = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).dependencies;
        const pin = (name: string) => new RegExp(`^${name}=(\\S+)`, "m").exec(script)?.[1];
        assert.deepStrictEqual(
            [pin("PULUMI_VERSION"), pin("SDK_K8S_VERSION"), pin("SDK_COMMAND_VERSION"), pin("SDK_POSTGRESQL_VERSION")],
            [pins["@pulumi/pulumi"], pins["@pulumi/kubernetes"], pins["@pulumi/command"], pins["@pulumi/postgresql"]],
        );
    });
});
