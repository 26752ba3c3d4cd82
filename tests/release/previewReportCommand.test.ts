/**
 * `npm run preview:report`: its arguments, and the command as a real process (npm, ts-node) with
 * no Pulumi CLI on its PATH: bad input is one line and exit 2, a saved preview needs no engine,
 * a stack to preview without the CLI is one line and exit 1.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PassThrough } from "stream";
import { parsePreviewOutput, REPORT_MARKER } from "../../release/previewReport";
import { parsePreviewReportArgs, previewReportCommand } from "../../release/previewReportCommand";
import { openLocalReleaseTarget } from "../../local/releaseTarget";

const repoRoot = path.resolve(__dirname, "../..");
const fixtureFile = path.join(__dirname, "fixtures", "pulumi-preview-diff.txt");

describe("preview:report arguments", () => {
    it("reads the stacks, each stack's saved preview and applied version, and --out", () => {
        assert.deepStrictEqual(parsePreviewReportArgs(["dev", "--preview-output", "dev.txt", "--applied-version", "004", "--out", "r.md"]), {
            stacks: ["dev"],
            previewOutputs: { dev: "dev.txt" },
            appliedVersions: { dev: "004" },
            out: "r.md",
            verbose: false,
            help: false,
        });
        assert.deepStrictEqual(
            parsePreviewReportArgs(["dev", "prod", "--preview-output=dev=a=b.txt", "--preview-output", "prod=p.txt", "--applied-version", "prod=", "-v"]),
            { stacks: ["dev", "prod"], previewOutputs: { dev: "a=b.txt", prod: "p.txt" }, appliedVersions: { prod: undefined }, verbose: true, help: false },
        );
        assert.deepStrictEqual(parsePreviewReportArgs(["local"]), { stacks: ["local"], previewOutputs: {}, appliedVersions: {}, verbose: false, help: false });
    });

    it("refuses bad input with one line", () => {
        const refused = (argv: string[], message: string) => assert.throws(() => parsePreviewReportArgs(argv), { name: "UsageError", message });
        refused([], "preview:report needs a stack: npm run preview:report -- <stack> (dev, staging, prod or local)");
        refused(["qa"], 'unknown stack "qa"; stacks: dev, staging, prod, local');
        refused(["dev", "dev"], 'stack "dev" is given twice');
        refused(["dev", "--force"], "unknown option --force; see npm run preview:report -- --help");
        refused(["dev", "--out"], "--out needs a value; see npm run preview:report -- --help");
        refused(["dev", "staging", "--preview-output", "x.txt"], "--preview-output x.txt names no stack; with several stacks write STACK=FILE");
        refused(["dev", "--preview-output", "prod=x.txt"], '--preview-output prod=x.txt names stack "prod", which is not in the stacks given (dev)');
        refused(["dev", "--preview-output", "x.txt", "--applied-version", "5"], '--applied-version "5" is not a migration version like 005');
        refused(["dev", "--applied-version", "005"], "--applied-version for dev needs --preview-output for dev (a stack previewed here reports its own)");
    });

    it("local before npm run local has made its stack says so", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-no-local-"));
        try {
            const io = { stdout: new PassThrough(), stderr: new PassThrough(), repoRoot: root, openLocalTarget: openLocalReleaseTarget };
            await assert.rejects(previewReportCommand(["local"], io), { name: "UsageError", message: "there is no local stack yet; run npm run local first" });
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});

describe("npm run preview:report (a real process, no Pulumi CLI on PATH)", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-preview-report-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    // node and npm, and the system's tools; no pulumi (the engine is in a cache, never on this PATH).
    const PATH = [path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter);
    const run = (...args: string[]) => {
        const result = spawnSync("npm", ["run", "--silent", "preview:report", "--", ...args], {
            cwd: repoRoot,
            encoding: "utf8",
            env: { ...process.env, PATH },
        });
        return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };

    it("bad input: one line on stderr, exit 2, nothing on stdout", () => {
        assert.deepStrictEqual(run("qa"), { code: 2, stdout: "", stderr: 'preview:report: error: unknown stack "qa"; stacks: dev, staging, prod, local\n' });
        assert.deepStrictEqual(run("dev", "--preview-output", path.join(dir, "missing.txt")), {
            code: 2,
            stdout: "",
            stderr: `preview:report: error: cannot read --preview-output ${path.join(dir, "missing.txt")}: ENOENT\n`,
        });
    });

    it("--preview-output: the report from a saved pulumi preview --diff, with no engine", () => {
        const result = run("dev", "--preview-output", fixtureFile, "--applied-version", "004");
        assert.deepStrictEqual([result.code, result.stderr], [0, ""]);
        const lines = result.stdout.split("\n");
        assert.deepStrictEqual(lines.slice(0, 6), [
            REPORT_MARKER,
            "## Pulumi preview",
            "",
            "| stack | infrastructure | pending migrations | migration lint |",
            "| --- | --- | --- | --- |",
            "| `dev` | 2 to update, 2 to replace, 20 unchanged | 005, 006 | ok |",
        ]);
        const diffStart = lines.indexOf("```diff") + 1;
        assert.deepStrictEqual(lines.slice(diffStart, lines.indexOf("```", diffStart)), parsePreviewOutput(fs.readFileSync(fixtureFile, "utf8")).diff);
        assert.ok(
            result.stdout.includes(
                [
                    "Pending migrations: applied 004 (the stack's last `migrationVersion` output); target 006 (the newest file).",
                    "",
                    "- `migrations/005_audit_logs.sql`",
                    "- `migrations/006_appointments_therapist_schedule_index.sql`",
                ].join("\n"),
            ),
            result.stdout,
        );
    });

    it("--out writes the same Markdown to a file; several stacks, one saved preview each", () => {
        const empty = path.join(dir, "prod.txt");
        fs.writeFileSync(empty, "");
        const out = path.join(dir, "report.md");
        const result = run(
            "dev",
            "prod",
            "--preview-output",
            `dev=${fixtureFile}`,
            "--preview-output",
            `prod=${empty}`,
            "--applied-version",
            "dev=",
            "--out",
            out,
        );
        assert.deepStrictEqual(result, { code: 0, stdout: "", stderr: "" });
        const report = fs.readFileSync(out, "utf8");
        assert.ok(report.startsWith(`${REPORT_MARKER}\n`));
        assert.ok(
            report.includes(
                "| `dev` | 2 to update, 2 to replace, 20 unchanged | 001, 002, 003, 004, 005, 006 | ok |\n| `prod` | **no preview** | 001, 002, 003, 004, 005, 006 | ok |\n",
            ),
            report,
        );
    });

    it("a stack to preview without the Pulumi CLI: one line, exit 1", () => {
        const result = run("staging");
        assert.deepStrictEqual(result, {
            code: 1,
            stdout: "",
            stderr:
                "preview:report: previewing staging (pulumi preview through the Automation API)\n" +
                "preview:report: error: pulumi preview of staging failed: the pulumi CLI is not on PATH; install it as for pulumi up (README, Prerequisites), or report from a saved preview with --preview-output FILE\n",
        });
    });
});
