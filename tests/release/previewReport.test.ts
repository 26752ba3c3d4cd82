/**
 * The pull-request preview report: the Markdown pieces (exact strings), which migrations are
 * pending, their lint through the real squawk binary, the text of a real `pulumi preview --diff`,
 * and a report built from a real engine preview of a stack rendering to a folder (no cluster).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { FileLintReport } from "../../database/lint/rules";
import { ResourceStep } from "../../release/engineEvents";
import { migrationSet, writeMigrationDir } from "../database/fixtures";
import {
    codeBlock,
    formatPreviewReport,
    formatStackSection,
    MigrationPlan,
    oneStepPerReplace,
    parsePreviewOutput,
    pendingMigrations,
    previewFromOutput,
    previewStack,
    readMigrationPlan,
    REPORT_MARKER,
    StackPreview,
    stackFileSetting,
    truncateLines,
} from "../../release/previewReport";
import { createTestClusterStack, TestClusterStack } from "../support/engine";

const repoRoot = path.resolve(__dirname, "../..");
const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", name), "utf8");

describe("preview report: pending migrations", () => {
    const set = migrationSet({ "001_a.sql": "SELECT 1;", "002_b.sql": "SELECT 1;", "003_c.sql": "SELECT 1;", "004_d.sql": "SELECT 1;" });
    const versions = (applied?: string, target?: string) => pendingMigrations(set.migrations, applied, target).map(m => m.version);

    it("lists the files above the applied version, up to the target", () => {
        assert.deepStrictEqual(versions("002"), ["003", "004"]);
        assert.deepStrictEqual(versions("001", "003"), ["002", "003"]);
        assert.deepStrictEqual(versions("004"), []);
    });

    it("lists every file up to the target when the applied version is unknown", () => {
        assert.deepStrictEqual(versions(undefined), ["001", "002", "003", "004"]);
        assert.deepStrictEqual(versions(undefined, "002"), ["001", "002"]);
    });

    it("lists nothing when the target is at or below the applied version", () => {
        assert.deepStrictEqual(versions("003", "003"), []);
        assert.deepStrictEqual(versions("003", "002"), []);
    });

    it("reads migrationTarget from a stack file, unset when the file does not set it", () => {
        assert.strictEqual(stackFileSetting(repoRoot, "dev", "migrationTarget"), undefined);
        assert.strictEqual(stackFileSetting(repoRoot, "dev", "dbName"), "physioflow_dev");
        assert.strictEqual(stackFileSetting(repoRoot, "qa", "dbName"), undefined);
    });
});

describe("preview report: the text of pulumi preview --diff", () => {
    it("drops colors, links, URNs and the read of the stack's own outputs; moves each change mark to the first column", () => {
        const text = [
            "\u001b[38;5;13m\u001b[1mPreviewing update (dev):\u001b[0m",
            "\u001b[0m  pulumi:pulumi:Stack: (same)",
            "    [urn=urn:pulumi:dev::physioflow::pulumi:pulumi:Stack::physioflow-dev]",
            "    > pulumi:pulumi:StackReference: (read)",
            "        [id=organization/physioflow/dev]",
            "        --outputs:--",
            "      ~ outputs          : {",
            '          + activeColor     : "blue"',
            "        }",
            "    ~ kubernetes:apps/v1:Deployment: (update)",
            "        [id=physioflow-dev/physioflow-api-green]",
            "        [provider=urn:pulumi:dev::physioflow::pulumi:providers:kubernetes::k8s::0d7c]",
            "      ~ spec: {",
            '          ~ image: "api:v1.2.3" => "api:v1.2.4"',
            "        }",
            "    +-kubernetes:core/v1:ConfigMap: (replace)",
            "    --outputs:--",
            "  ~ tags: {",
            "View Live: https://app.example.test/org/physioflow/dev/previews/1",
            "Resources:",
            "    ~ 1 to update",
            "    +-1 to replace",
            "    2 changes. 17 unchanged",
            "",
        ].join("\r\n");
        assert.deepStrictEqual(parsePreviewOutput(text), {
            diff: [
                "Previewing update (dev):",
                "  pulumi:pulumi:Stack: (same)",
                "~     kubernetes:apps/v1:Deployment: (update)",
                "        [id=physioflow-dev/physioflow-api-green]",
                "~       spec: {",
                '~           image: "api:v1.2.3" => "api:v1.2.4"',
                "        }",
                "+-    kubernetes:core/v1:ConfigMap: (replace)",
                "    --outputs:--",
                "~   tags: {",
                "Resources:",
                "~     1 to update",
                "+-    1 to replace",
                "    2 changes. 17 unchanged",
            ],
            summary: "1 to update, 1 to replace, 17 unchanged",
        });
    });

    it("reads a real engine's output (fixture: a tag and a migration target changed)", () => {
        const { diff, summary } = parsePreviewOutput(fixture("pulumi-preview-diff.txt"));
        assert.strictEqual(summary, "2 to update, 2 to replace, 20 unchanged");
        assert.ok(
            diff.includes('~                               image: "registry.local:5000/physioflow-api:v1.0.0" => "registry.local:5000/physioflow-api:v1.2.0"'),
        );
        assert.ok(!diff.some(line => line.includes("StackReference") || line.includes("[urn=")), diff.join("\n"));
    });

    it("no output: no diff and no summary", () => {
        assert.deepStrictEqual(parsePreviewOutput(""), { diff: [] });
    });
});

describe("preview report: engine steps", () => {
    const step = (op: string, name: string, diffs: string[] = [], replaceBecause: string[] = []): ResourceStep => ({
        urn: `urn:pulumi:dev::physioflow::kubernetes:batch/v1:Job::${name}`,
        type: "kubernetes:batch/v1:Job",
        name,
        op: op as ResourceStep["op"],
        diffs,
        replaceBecause,
    });

    it("one replace step per replaced resource, with the reasons of its three engine steps", () => {
        assert.deepStrictEqual(
            oneStepPerReplace([
                step("delete-replaced", "smoke"),
                step("replace", "smoke", ["spec.b"]),
                step("create-replacement", "smoke", ["spec.a"], ["spec.template"]),
                step("update", "other", ["spec.c"]),
            ]),
            [step("replace", "smoke", ["spec.a", "spec.b"], ["spec.template"]), step("update", "other", ["spec.c"])],
        );
    });
});

describe("preview report: Markdown pieces", () => {
    it("fences a block with more backticks than any line holds", () => {
        assert.deepStrictEqual(codeBlock("diff", ["+ a"]), ["```diff", "+ a", "```"]);
        assert.deepStrictEqual(codeBlock("", ["x ```` y"]), ["`````", "x ```` y", "`````"]);
    });

    it("cuts a long diff on whole lines, says how much is left out, keeps the summary", () => {
        assert.deepStrictEqual(truncateLines(["aaaa", "bbbb", "cccc", "dddd", "Resources:", "1 to update"], 30, 2), [
            "aaaa",
            "... 3 more lines (the whole preview is in the workflow's log)",
            "Resources:",
            "1 to update",
        ]);
        assert.deepStrictEqual(truncateLines(["a", "b"], 20, 1), ["a", "b"]);
    });

    const lint: FileLintReport[] = [
        {
            path: "migrations/007_phone_type.sql",
            ok: false,
            violations: [{ line: 1, rule: "changing-column-type", severity: "breaking", message: "changes a column type" }],
        },
    ];
    const plan: MigrationPlan = { appliedVersion: "006", newestVersion: "007", pending: ["migrations/007_phone_type.sql"], lint, problems: [] };
    const dev: StackPreview = {
        stack: "dev",
        summary: "1 to update, 17 unchanged",
        diff: ["~ Deployment physioflow-api-green  update  spec.template"],
        migrations: plan,
    };

    it("a stack's section: the diff, the pending files from the applied version to the target, their lint", () => {
        assert.deepStrictEqual(formatStackSection(dev), [
            "### `dev`",
            "",
            "Infrastructure:",
            "",
            "```diff",
            "~ Deployment physioflow-api-green  update  spec.template",
            "```",
            "",
            "Pending migrations: applied 006 (the stack's last `migrationVersion` output); target 007 (the newest file).",
            "",
            "- `migrations/007_phone_type.sql`",
            "",
            "Blue-green lint of the pending migrations (squawk):",
            "",
            "```",
            "FAIL    migrations/007_phone_type.sql (1 breaking)",
            "        migrations/007_phone_type.sql:1: breaking [changing-column-type] changes a column type",
            "```",
        ]);
    });

    it("an unknown applied version, a migrationTarget, nothing pending, a failed preview and a bad file name", () => {
        const failed: StackPreview = {
            stack: "prod",
            diff: [],
            migrations: {
                migrationTarget: "000",
                newestVersion: "007",
                pending: [],
                lint: [],
                problems: ["`migrations/7_x.sql`: not named NNN_description.sql"],
            },
        };
        assert.deepStrictEqual(formatStackSection(failed), [
            "### `prod`",
            "",
            "Infrastructure:",
            "",
            "no preview output (the preview failed: see the workflow's log)",
            "",
            "Pending migrations: applied unknown: all files listed; target 000 (`migrationTarget`).",
            "",
            "none",
            "",
            "Problems in the migrations folder (the migration would refuse to run):",
            "",
            "- `migrations/7_x.sql`: not named NNN_description.sql",
        ]);
    });

    it("the comment: the marker first, one row per stack, then the sections", () => {
        const staging: StackPreview = {
            stack: "staging",
            diff: ["no changes (19 resources unchanged)"],
            summary: "19 unchanged",
            migrations: { ...plan, lint: [{ ...lint[0], ok: true, violations: [] }] },
        };
        const report = formatPreviewReport([dev, staging]);
        assert.deepStrictEqual(report.split("\n").slice(0, 7), [
            REPORT_MARKER,
            "## Pulumi preview",
            "",
            "| stack | infrastructure | pending migrations | migration lint |",
            "| --- | --- | --- | --- |",
            "| `dev` | 1 to update, 17 unchanged | 007 | **1 FAIL** |",
            "| `staging` | 19 unchanged | 007 | ok |",
        ]);
        assert.strictEqual(REPORT_MARKER, "<!-- physioflow-preview-report -->");
        assert.ok(report.includes(`\n\n${formatStackSection(dev).join("\n")}\n\n### \`staging\``));
        assert.ok(report.endsWith("```\n"));
    });
});

describe("preview report: lint of the pending migrations (real squawk)", function () {
    this.timeout(60_000);

    it("fails a column type change, warns on a blocking index, passes an added column; only pending files", async () => {
        const dir = writeMigrationDir({
            "001_patients.sql": "CREATE TABLE patients (id bigint PRIMARY KEY, phone text);\n",
            "002_patient_email.sql": "ALTER TABLE patients ADD COLUMN email text;\n",
            "003_phone_type.sql": "ALTER TABLE patients ALTER COLUMN phone TYPE varchar(20);\n",
            "004_phone_index.sql": "CREATE INDEX patients_phone_idx ON patients (phone);\n",
        });
        const plan = await readMigrationPlan({ dir, displayRoot: path.dirname(dir) }, "001");
        const shown = (file: string) => `${path.basename(dir)}/${file}`;
        assert.deepStrictEqual(plan.pending, [shown("002_patient_email.sql"), shown("003_phone_type.sql"), shown("004_phone_index.sql")]);
        assert.deepStrictEqual(
            plan.lint.map(r => [r.path, r.ok, r.violations.map(v => `${v.severity} ${v.rule}`)]),
            [
                [shown("002_patient_email.sql"), true, []],
                [shown("003_phone_type.sql"), false, ["breaking changing-column-type"]],
                [shown("004_phone_index.sql"), true, ["warning require-concurrent-index-creation"]],
            ],
        );
        const section = formatStackSection({ stack: "dev", diff: ["no changes (19 resources unchanged)"], migrations: plan });
        assert.deepStrictEqual(section.slice(section.indexOf("Blue-green lint of the pending migrations (squawk):")), [
            "Blue-green lint of the pending migrations (squawk):",
            "",
            "```",
            `ok      ${shown("002_patient_email.sql")}`,
            `FAIL    ${shown("003_phone_type.sql")} (1 breaking)`,
            `        ${shown("003_phone_type.sql")}:1: breaking [changing-column-type] changes a column type; the running (old) color may read or write the old type, and the table is rewritten under an exclusive lock`,
            `ok      ${shown("004_phone_index.sql")}`,
            `        ${shown("004_phone_index.sql")}:1: warning [require-concurrent-index-creation] CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds`,
            "```",
        ]);
        assert.ok(formatPreviewReport([{ stack: "dev", diff: [], migrations: plan }]).includes("| `dev` | **no preview** | 002, 003, 004 | **1 FAIL** |"));
    });

    it("held migrations (holdMigrations, set by a rollback): nothing pending or linted whatever the files, the section and the row say so; with no applied version known, a problem", async () => {
        const dir = writeMigrationDir({
            "001_patients.sql": "CREATE TABLE patients (id bigint PRIMARY KEY, phone text);\n",
            "002_phone_type.sql": "ALTER TABLE patients ALTER COLUMN phone TYPE varchar(20);\n",
        });
        const plan = await readMigrationPlan({ dir, displayRoot: path.dirname(dir) }, "001", undefined, true);
        assert.deepStrictEqual([plan.held, plan.pending, plan.lint, plan.problems], [true, [], [], []]);
        const section = formatStackSection({ stack: "prod", diff: ["no changes (19 resources unchanged)"], migrations: plan });
        assert.ok(
            section.includes(
                "Pending migrations: applied 001 (the stack's last `migrationVersion` output); target held at the applied version (`holdMigrations`, set by a rollback; the next deploy's release step moves it on).",
            ),
            section.join("\n"),
        );
        assert.ok(formatPreviewReport([{ stack: "prod", diff: [], migrations: plan }]).includes("| `prod` | **no preview** | none (held) | nothing to lint |"));
        const unknown = await readMigrationPlan({ dir, displayRoot: path.dirname(dir) }, undefined, undefined, true);
        assert.deepStrictEqual(unknown.pending, []);
        assert.match(unknown.problems.join("\n"), /^`holdMigrations` is true but the stack's last update recorded no `migrationVersion` to hold/);
    });

    it("the project's own migrations all pass", async () => {
        const plan = await readMigrationPlan({ dir: path.join(repoRoot, "migrations"), displayRoot: repoRoot });
        assert.strictEqual(plan.pending[0], "migrations/001_initial_schema.sql");
        assert.deepStrictEqual(
            plan.lint.filter(r => !r.ok),
            [],
        );
        assert.deepStrictEqual(plan.problems, []);
    });
});

describe("preview report from a real engine preview (a stack rendering to a folder)", function () {
    let s: TestClusterStack;

    before(async function () {
        this.timeout(45 * 60 * 1000); // engine.sh builds the engine first when it is missing (~15 min)
        s = await createTestClusterStack("prreport", { render: true });
        await s.set({ migrationTarget: "002" });
        await s.up();
    });
    after(async () => s?.remove());

    const migrations = { dir: path.join(repoRoot, "migrations"), displayRoot: repoRoot };

    it("shows the Deployment changes and the migrations from the stack's last migrationVersion to its migrationTarget", async () => {
        await s.set({ greenTag: "v1.2.0", migrationTarget: "004" });
        const preview = await previewStack(s.stack, migrations);
        assert.strictEqual(preview.stack, "prreport");
        assert.strictEqual(preview.summary, "2 to update, 2 to replace, 24 unchanged");
        const changed = preview.diff.map(line => line.replace(/\s+/g, " "));
        assert.deepStrictEqual(changed, [
            "+- ConfigMap migration-version replace data.version (replaced because of data.version)",
            "~ Deployment physioflow-api-green update spec.template.spec.containers[0].image",
            "~ Deployment physioflow-web-green update spec.template.spec.containers[0].image",
            "+- Job physioflow-smoke-blue replace (replaced because of spec.template)",
            "24 unchanged",
        ]);
        assert.deepStrictEqual(preview.migrations.pending, ["migrations/003_soap_notes.sql", "migrations/004_bhyt_insurance_cards.sql"]);
        assert.deepStrictEqual([preview.migrations.appliedVersion, preview.migrations.migrationTarget], ["002", "004"]);
        assert.deepStrictEqual(
            preview.migrations.lint.map(r => [r.path, r.ok]),
            [
                ["migrations/003_soap_notes.sql", true],
                ["migrations/004_bhyt_insurance_cards.sql", true],
            ],
        );
        const report = formatPreviewReport([preview]);
        assert.ok(report.startsWith(`${REPORT_MARKER}\n`));
        assert.ok(report.includes("| `prreport` | 2 to update, 2 to replace, 24 unchanged | 003, 004 | ok |"), report);
    });

    it("the same from the text of pulumi preview --diff (what the pulumi/actions step gives)", async () => {
        const { stdout } = await s.stack.preview({ diff: true });
        const preview = await previewFromOutput("prreport", stdout, migrations, "002", "004");
        assert.strictEqual(preview.summary, "2 to update, 2 to replace, 24 unchanged");
        assert.ok(
            preview.diff.includes(
                '~                               image: "registry.local:5000/physioflow-web:v1.0.0" => "registry.local:5000/physioflow-web:v1.2.0"',
            ),
            preview.diff.join("\n"),
        );
        assert.deepStrictEqual(preview.migrations.pending, ["migrations/003_soap_notes.sql", "migrations/004_bhyt_insurance_cards.sql"]);
    });
});
