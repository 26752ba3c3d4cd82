/**
 * What the workflows do, read from their YAML, and their two scripts run for real: the step that
 * writes the report (bash, npm run preview:report, the pulumi/actions outputs as its environment)
 * and the github-script that keeps ONE comment per pull request (against a recording GitHub client).
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { REPORT_MARKER } from "../../release/previewReport";

const repoRoot = path.resolve(__dirname, "../..");
const fixtureText = fs.readFileSync(path.join(repoRoot, "tests", "release", "fixtures", "pulumi-preview-diff.txt"), "utf8");

interface Step {
    name?: string;
    id?: string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
    "continue-on-error"?: boolean;
}
interface Job {
    "runs-on": string;
    if?: string;
    environment?: string;
    env?: Record<string, string>;
    steps: Step[];
}
interface Workflow {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    concurrency: { group: string; "cancel-in-progress": boolean };
    jobs: Record<string, Job>;
}

const workflow = (file: string) => yaml.load(fs.readFileSync(path.join(repoRoot, ".github", "workflows", file), "utf8")) as Workflow;

describe("the pull-request workflow (preview.yml)", () => {
    const preview = workflow("preview.yml");
    const steps = preview.jobs.preview.steps;
    const pulumiSteps = steps.filter(step => step.uses?.startsWith("pulumi/actions@"));

    it("runs on pull requests with only the permissions it needs", () => {
        assert.deepStrictEqual(Object.keys(preview.on), ["pull_request"]);
        assert.deepStrictEqual(preview.permissions, { contents: "read", "pull-requests": "write" });
        assert.deepStrictEqual(Object.keys(preview.jobs), ["preview"]);
    });

    it("previews dev, staging and prod with pulumi/actions v6, with --diff, leaving the comment to the report", () => {
        assert.deepStrictEqual(
            pulumiSteps.map(step => [
                step.uses,
                step.id,
                step.with?.["stack-name"],
                step.with?.command,
                step.with?.diff,
                step.with?.["comment-on-pr"],
                step["continue-on-error"],
            ]),
            [
                ["pulumi/actions@v6", "dev", "dev", "preview", true, false, true],
                ["pulumi/actions@v6", "staging", "staging", "preview", true, false, true],
                ["pulumi/actions@v6", "prod", "prod", "preview", true, false, true],
            ],
        );
        assert.deepStrictEqual(
            pulumiSteps.map(step => step.with?.["pulumi-version"]),
            ["3.248.0", "3.248.0", "3.248.0"],
        );
        const setupNode = steps.find(step => step.uses?.startsWith("actions/setup-node@"));
        assert.deepStrictEqual(setupNode?.with, { "node-version": 20, cache: "npm" });
    });

    it("keeps secrets in secrets.* and names no host", () => {
        assert.deepStrictEqual(preview.jobs.preview.env, {
            PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
            PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        });
        const text = fs.readFileSync(path.join(repoRoot, ".github", "workflows", "preview.yml"), "utf8");
        assert.ok(!/https?:\/\/|\b\d{1,3}(\.\d{1,3}){3}\b/.test(text), "a URL or an IP address in the workflow");
    });

    it("the report step, run by bash as the runner would, writes one report of the three stacks from the steps' outputs", () => {
        const step = steps.find(s => s.name === "Write the report")!;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-workflow-"));
        try {
            const summary = path.join(dir, "summary.md");
            const env = {
                ...process.env,
                RUNNER_TEMP: dir,
                GITHUB_STEP_SUMMARY: summary,
                DEV_OUTPUT: fixtureText,
                DEV_VERSION: "005",
                STAGING_OUTPUT: fixtureText,
                STAGING_VERSION: "",
                PROD_OUTPUT: "",
                PROD_VERSION: "",
            };
            // The expressions in `env:` are what the runner fills in; the script itself holds none.
            assert.ok(!step.run!.includes("${{"));
            const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!], { cwd: repoRoot, env, encoding: "utf8" });
            assert.deepStrictEqual([result.status, result.stderr], [0, ""]);
            const report = fs.readFileSync(path.join(dir, "preview", "report.md"), "utf8");
            assert.deepStrictEqual(report.split("\n").slice(0, 8), [
                REPORT_MARKER,
                "## Pulumi preview",
                "",
                "| stack | infrastructure | pending migrations | migration lint |",
                "| --- | --- | --- | --- |",
                "| `dev` | 2 to update, 2 to replace, 20 unchanged | 006 | ok |",
                "| `staging` | 2 to update, 2 to replace, 20 unchanged | 001, 002, 003, 004, 005, 006 | ok |",
                "| `prod` | **no preview** | 001, 002, 003, 004, 005, 006 | ok |",
            ]);
            assert.strictEqual(fs.readFileSync(summary, "utf8"), report);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("the comment step (actions/github-script)", () => {
        const step = steps.find(s => s.uses?.startsWith("actions/github-script@"))!;

        /** Runs the step's script as github-script does (an async function body) against a GitHub client that records its calls. */
        async function runCommentScript(existing: { id: number; user: { login: string }; body: string }[]) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-comment-"));
            const reportFile = path.join(dir, "report.md");
            fs.writeFileSync(reportFile, `${REPORT_MARKER}\n## Pulumi preview\n`);
            const calls: string[] = [];
            const record = (what: string) => async (params: Record<string, unknown>) => {
                calls.push(`${what} ${JSON.stringify(params)}`);
                return { data: {} };
            };
            const listComments = async () => ({ data: existing });
            const github = {
                paginate: async (method: unknown, params: Record<string, unknown>) => {
                    assert.strictEqual(method, listComments);
                    calls.push(`list ${JSON.stringify(params)}`);
                    return existing;
                },
                rest: { issues: { listComments, updateComment: record("update"), createComment: record("create") } },
            };
            const context = { repo: { owner: "team", repo: "physioflow-deploy" }, issue: { number: 42 } };
            const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
            try {
                await new AsyncFunction("require", "github", "context", "process", step.with!.script)(require, github, context, {
                    env: { REPORT_FILE: reportFile },
                });
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
            return calls;
        }

        const body = JSON.stringify(`${REPORT_MARKER}\n## Pulumi preview\n`);
        const list = 'list {"owner":"team","repo":"physioflow-deploy","issue_number":42,"per_page":100}';

        it("finds the comment by the same marker the report starts with", () => {
            assert.ok(String(step.with!.script).includes(`const marker = "${REPORT_MARKER}";`));
            assert.strictEqual(step.env?.REPORT_FILE, "${{ runner.temp }}/preview/report.md");
        });

        it("creates the comment when the pull request has none", async () => {
            assert.deepStrictEqual(await runCommentScript([{ id: 3, user: { login: "alice" }, body: "LGTM" }]), [
                list,
                `create {"owner":"team","repo":"physioflow-deploy","issue_number":42,"body":${body}}`,
            ]);
        });

        it("edits its own marked comment instead of posting another; a person's comment quoting the marker is left alone", async () => {
            assert.deepStrictEqual(
                await runCommentScript([
                    { id: 3, user: { login: "alice" }, body: `${REPORT_MARKER} quoted` },
                    { id: 5, user: { login: "github-actions[bot]" }, body: "another bot message" },
                    { id: 7, user: { login: "github-actions[bot]" }, body: `${REPORT_MARKER}\nold report` },
                ]),
                [list, `update {"owner":"team","repo":"physioflow-deploy","comment_id":7,"body":${body}}`],
            );
        });
    });

    it("fails the job after the comment when a preview failed", () => {
        const last = steps[steps.length - 1];
        assert.strictEqual(last.if, "steps.dev.outcome == 'failure' || steps.staging.outcome == 'failure' || steps.prod.outcome == 'failure'");
        assert.ok(steps.indexOf(last) > steps.findIndex(s => s.uses?.startsWith("actions/github-script@")));
    });
});

describe("the merge workflow (up-dev.yml)", () => {
    const up = workflow("up-dev.yml");

    it("on a push to main, runs pulumi up of dev in the dev environment, one update at a time", () => {
        assert.deepStrictEqual(up.on, { push: { branches: ["main"] } });
        assert.deepStrictEqual(up.permissions, { contents: "read" });
        assert.deepStrictEqual(up.concurrency, { group: "pulumi-up-dev", "cancel-in-progress": false });
        assert.strictEqual(up.jobs.up.environment, "dev");
        const pulumi = up.jobs.up.steps.filter(step => step.uses?.startsWith("pulumi/actions@"));
        assert.deepStrictEqual(
            pulumi.map(step => [step.uses, step.with?.command, step.with?.["stack-name"]]),
            [
                ["pulumi/actions@v6", undefined, undefined],
                ["pulumi/actions@v6", "up", "dev"],
            ],
        );
    });

    it("refuses the up when the committed stack file is not dev's live release: physioflow sync dev --check first, with the CLI and the kubeconfig", () => {
        const steps = up.jobs.up.steps;
        const check = steps.findIndex(step => step.run === "npx physioflow sync dev --check");
        const upStep = steps.findIndex(step => step.with?.command === "up");
        assert.ok(check !== -1, "no sync --check step");
        assert.ok(check < upStep, "the check runs after the up");
        assert.ok(steps.findIndex(step => step.name === "Kubeconfig") < check, "the check runs before the kubeconfig is written");
        assert.ok(steps.findIndex(step => step.uses === "pulumi/actions@v6" && step.with?.command === undefined) < check, "no Pulumi CLI for the check");
        assert.strictEqual(steps[check].if, undefined, "the check can be skipped");
        assert.strictEqual(steps[check]["continue-on-error"], undefined, "a failed check does not stop the up");
    });
});
