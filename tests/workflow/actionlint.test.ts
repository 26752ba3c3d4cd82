/**
 * actionlint (with shellcheck for the `run:` scripts) over .github/workflows/: the real binaries
 * `npm run setup` provides. They pass on the project's workflows and catch a deliberately broken
 * copy, so this test can fail. A missing binary is an error saying to run npm run setup, never a skip.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "../..");
const workflowsDir = path.join(repoRoot, ".github", "workflows");

/** actionlint's path from scripts/actionlint.sh (which never builds in `path` mode). */
function actionlintBinary(): string {
    const result = spawnSync("bash", [path.join(repoRoot, "scripts", "actionlint.sh"), "path"], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`actionlint is not available: ${result.stderr.trim() || `exit ${result.status}`}`);
    return result.stdout.trim();
}

function shellcheckBinary(): string {
    const result = spawnSync("bash", ["-c", "command -v shellcheck"], { encoding: "utf8" });
    if (result.status !== 0) throw new Error("shellcheck is not installed (actionlint checks run: scripts with it); run npm run setup");
    return result.stdout.trim();
}

interface ActionlintError {
    filepath: string;
    line: number;
    kind: string;
    message: string;
}

/** Runs actionlint in `dir` (a repository root) on its workflows, with the repository's config; returns what it reports. */
function actionlint(dir: string): ActionlintError[] {
    const files = fs
        .readdirSync(path.join(dir, ".github", "workflows"))
        .filter(f => /\.ya?ml$/.test(f))
        .map(f => `.github/workflows/${f}`);
    const result = spawnSync(
        actionlintBinary(),
        ["-config-file", ".github/actionlint.yaml", "-shellcheck", shellcheckBinary(), "-format", "{{json .}}", ...files],
        { cwd: dir, encoding: "utf8" },
    );
    // 0: no problem, 1: problems reported; anything else is actionlint failing to run.
    if (result.status !== 0 && result.status !== 1) throw new Error(`actionlint failed (exit ${result.status}): ${result.stderr.trim()}`);
    return JSON.parse(result.stdout.trim() || "[]");
}

describe("GitHub workflows under actionlint (real binary, with shellcheck)", function () {
    this.timeout(60_000);

    it("the binary is actionlint 1.7.12", () => {
        const result = spawnSync(actionlintBinary(), ["-version"], { encoding: "utf8" });
        assert.strictEqual(result.stdout.split("\n")[0], "v1.7.12");
    });

    it("passes on every workflow of the repository", () => {
        assert.deepStrictEqual(fs.readdirSync(workflowsDir).sort(), ["preview.yml", "test.yml", "up-dev.yml"]);
        assert.deepStrictEqual(actionlint(repoRoot), []);
    });

    it("flags a broken copy: a misspelled permission, an undeclared repository variable, an unquoted shell variable", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-actionlint-"));
        try {
            fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
            fs.copyFileSync(path.join(repoRoot, ".github", "actionlint.yaml"), path.join(dir, ".github", "actionlint.yaml"));
            const breakIn = (file: string, from: string, to: string) => {
                const text = fs.readFileSync(path.join(workflowsDir, file), "utf8");
                assert.ok(text.includes(from), `${file} no longer contains ${from}`);
                fs.writeFileSync(path.join(dir, ".github", "workflows", file), text.replace(from, to));
            };
            breakIn("preview.yml", "  pull-requests: write", "  pull-request: write");
            breakIn("up-dev.yml", "vars.PULUMI_RUNNER ||", "vars.PULUMI_RUNNERS ||");
            const previewText = fs.readFileSync(path.join(dir, ".github", "workflows", "preview.yml"), "utf8");
            fs.writeFileSync(
                path.join(dir, ".github", "workflows", "preview.yml"),
                previewText.replace(`printf '%s' "$DEV_OUTPUT" > "$dir/dev.txt"`, `printf '%s' $DEV_OUTPUT > "$dir/dev.txt"`),
            );
            assert.ok(fs.readFileSync(path.join(dir, ".github", "workflows", "preview.yml"), "utf8").includes("$DEV_OUTPUT >"));

            const found = actionlint(dir).map(e => `${e.filepath} ${e.kind} ${e.message.split(".")[0]}`);
            assert.deepStrictEqual(found.sort(), [
                `.github/workflows/preview.yml permissions unknown permission scope "pull-request"`,
                ".github/workflows/preview.yml shellcheck shellcheck reported issue in this script: SC2086:info:3:13: Double quote to prevent globbing and word splitting",
                `.github/workflows/up-dev.yml expression undefined configuration variable "pulumi_runners"`,
            ]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
