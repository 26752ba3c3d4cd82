import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deployExitCode, deploySummary, parseDeployArgs, releaseMain, rollbackSummary } from "../../release/cli";
import type { RollbackResult } from "../../release/rollback";
import type { DeployResult } from "../../release/types";
import { openLocalReleaseTarget } from "../../local/releaseTarget";
import { runInProcess } from "../support/cliRun";

describe("physioflow deploy arguments", () => {
    it("reads the stack, the tag and the options, with a 5-minute watch by default", () => {
        assert.deepStrictEqual(parseDeployArgs(["prod", "v1.3.0"]), {
            stack: "prod",
            tag: "v1.3.0",
            watchSeconds: 300,
            keepWarm: false,
            commit: false,
            yes: false,
            json: false,
        });
        assert.deepStrictEqual(parseDeployArgs(["local", "v2", "--watch", "90s", "--keep-warm", "--commit", "--yes", "--json"]), {
            stack: "local",
            tag: "v2",
            watchSeconds: 90,
            keepWarm: true,
            commit: true,
            yes: true,
            json: true,
        });
        assert.strictEqual(parseDeployArgs(["dev", "v2", "--watch=2m"]).watchSeconds, 120);
    });

    it("refuses bad input with one line", () => {
        const refused = (argv: string[], message: string) => assert.throws(() => parseDeployArgs(argv), { name: "UsageError", message });
        refused(["prod"], "deploy needs a stack and a tag: physioflow deploy <stack> <tag>");
        refused(["qa", "v1"], 'unknown stack "qa"; stacks: local, dev, staging, prod');
        refused(["dev", "v1", "--watch", "5 minutes"], '--watch "5 minutes" is not a duration like 90s or 5m');
        refused(["dev", "v1", "--watch"], "--watch needs a duration, e.g. --watch 5m");
        refused(["dev", "v1", "--force"], "unknown option --force; see physioflow deploy --help");
    });
});

describe("physioflow deploy, before it touches anything", () => {
    const run = (argv: string[], repoRoot = process.cwd()) =>
        runInProcess(streams => releaseMain(argv, repoRoot, { ...streams, openLocalTarget: openLocalReleaseTarget }));

    it("prod without --yes and without a terminal is refused (exit 2)", async () => {
        const result = await run(["deploy", "prod", "v1.3.0"]);
        assert.deepStrictEqual(result, {
            code: 2,
            stdout: "",
            stderr: "physioflow: error: deploy to prod needs a confirmation and there is no terminal; re-run with --yes\n",
        });
    });

    it("local before npm run local has made its stack says so (exit 2)", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-no-local-"));
        try {
            const result = await run(["deploy", "local", "v1.1.0"], root);
            assert.deepStrictEqual(result, { code: 2, stdout: "", stderr: "physioflow: error: there is no local stack yet; run npm run local first\n" });
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    it("--help prints the usage", async () => {
        const result = await run(["deploy", "--help"]);
        assert.strictEqual(result.code, 0);
        assert.match(result.stdout, /^usage: physioflow deploy <stack> <tag> \[--watch 5m\] \[--keep-warm\] \[--commit\] \[--yes\] \[--json\]/);
    });

    it("rollback: one stack, known options; prod asks unless --yes or --emergency, and without a terminal refuses", async () => {
        assert.deepStrictEqual(await run(["rollback"]), {
            code: 2,
            stdout: "",
            stderr: "physioflow: error: rollback needs a stack: physioflow rollback <stack>\n",
        });
        assert.deepStrictEqual(await run(["rollback", "prod", "--now"]), {
            code: 2,
            stdout: "",
            stderr: "physioflow: error: unknown option --now; see physioflow rollback --help\n",
        });
        assert.deepStrictEqual(await run(["rollback", "prod"]), {
            code: 2,
            stdout: "",
            stderr: "physioflow: error: rollback of prod needs a confirmation and there is no terminal; re-run with --yes\n",
        });
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-no-local-"));
        try {
            // --emergency asks nothing: it goes straight to opening the stack.
            assert.deepStrictEqual(await run(["rollback", "local", "--emergency"], root), {
                code: 2,
                stdout: "",
                stderr: "physioflow: error: there is no local stack yet; run npm run local first\n",
            });
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    it("rollback --restore: needs a file that exists, not with --emergency, and a typed confirmation on every stack unless --yes", async () => {
        const error = (text: string) => ({ code: 2, stdout: "", stderr: `physioflow: error: ${text}\n` });
        assert.deepStrictEqual(
            await run(["rollback", "dev", "--restore"]),
            error("--restore needs a backup archive: --restore FILE, latest or s3://bucket/key"),
        );
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-restore-args-"));
        try {
            const archive = path.join(root, "dev_pre-deploy-v1.tar.gz");
            assert.deepStrictEqual(
                await run(["rollback", "dev", "--restore", archive]),
                error(`${archive}: no such backup archive (or use --restore latest, --restore s3://bucket/key)`),
            );
            fs.writeFileSync(archive, "");
            assert.deepStrictEqual(
                await run(["rollback", "dev", `--restore=${archive}`, "--emergency"]),
                error("--restore and --emergency do not go together: a restore takes the API off the database; roll back with --emergency first, then restore"),
            );
            assert.deepStrictEqual(
                await run(["rollback", "dev", "--restore", archive]),
                error("rollback --restore needs a confirmation and there is no terminal; re-run with --yes"),
            );
            assert.deepStrictEqual(await run(["rollback", "dev", "--restore", archive, "--color", "red"]), error('--color must be blue or green, got "red"'));
            assert.deepStrictEqual(
                await run(["rollback", "dev", "--color=blue"]),
                error("--color goes with --restore FILE: the color to bring back with the archive"),
            );
            // --yes goes straight to opening the stack.
            assert.deepStrictEqual(
                await run(["rollback", "local", "--restore", archive, "--yes"], root),
                error("there is no local stack yet; run npm run local first"),
            );
            assert.deepStrictEqual(
                await run(["rollback", "local", "--restore", archive, "--color", "green", "--yes"], root),
                error("there is no local stack yet; run npm run local first"),
            );
            // latest and s3://… are looked up through the stack (its backupDir and store): it is opened first, even without --yes.
            for (const spec of ["latest", "s3://physioflow-backups-dev/physioflow-backups/dev_x_20261201_000000.tar.gz"]) {
                assert.deepStrictEqual(
                    await run(["rollback", "local", "--restore", spec], root),
                    error("there is no local stack yet; run npm run local first"),
                );
                assert.deepStrictEqual(
                    await run(["rollback", "dev", "--restore", spec, "--emergency"]),
                    error(
                        "--restore and --emergency do not go together: a restore takes the API off the database; roll back with --emergency first, then restore",
                    ),
                );
            }
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});

describe("physioflow deploy's summary and exit code, from the typed result", () => {
    const step = (name: "release" | "switch" | "watch" | "finish" | "rollback", outcome: DeployResult["steps"][number]["outcome"], result: string) => ({
        step: name,
        changes: [],
        seconds: 1,
        outcome,
        result,
    });
    const base: DeployResult = { ok: false, tag: "v2", from: "blue", to: "green", steps: [] };

    it("a live tag: exit 0", () => {
        const result: DeployResult = { ...base, ok: true, live: { color: "green" } };
        assert.deepStrictEqual(deploySummary(result, "prod"), ["v2 is live on green"]);
        assert.strictEqual(deployExitCode(result), 0);
    });

    it("a failed finish names the color read back (green), not the one the deploy came from: exit 1", () => {
        const live = { color: "green" as const };
        const result: DeployResult = {
            ...base,
            steps: [step("finish", { kind: "failed", error: "denied", live }, "failed: denied; green is live")],
            live,
            error: "finish failed: denied",
        };
        assert.deepStrictEqual(deploySummary(result, "prod").slice(-1), ["finish failed: denied; green is live"]);
        assert.strictEqual(deployExitCode(result), 1);
        assert.deepStrictEqual(deploySummary({ ...result, live: { color: "unknown", reason: "connection refused" } }, "prod").slice(-1), [
            "finish failed: denied; live color unknown (connection refused)",
        ]);
    });

    it("rolled back: exit 1, with the color read back", () => {
        const result: DeployResult = { ...base, rolledBack: { reason: "3 container restart(s)" }, live: { color: "blue" } };
        assert.deepStrictEqual(deploySummary(result, "prod"), ["rolled back: 3 container restart(s); blue is live"]);
        assert.strictEqual(deployExitCode(result), 1);
    });

    it("an automatic rollback that failed: exit 3, act now, what to run", () => {
        const result: DeployResult = {
            ...base,
            live: { color: "green" },
            rollbackFailed: { breach: "the cluster could not be read 3 times in a row: refused", error: "denied" },
            error: "automatic rollback to blue failed: denied",
        };
        assert.deepStrictEqual(deploySummary(result, "prod"), [
            "the alarm stays in physioflow status prod until a deploy or rollback succeeds; to finish the rollback: physioflow rollback prod --emergency",
            "automatic rollback FAILED, act now: denied; green is live (the watch's breach: the cluster could not be read 3 times in a row: refused)",
        ]);
        assert.strictEqual(deployExitCode(result), 3);
    });
});

describe("physioflow rollback's last line, from the typed result", () => {
    const base: RollbackResult = { ok: true, from: "green", to: "blue", steps: [] };

    it("switched: the color read back; an emergency adds the patch time", () => {
        assert.strictEqual(rollbackSummary({ ...base, live: { color: "blue" } }), "blue is live");
        assert.strictEqual(rollbackSummary({ ...base, live: { color: "blue" }, patchMs: 84 }), "blue is live (Services patched in 84 ms)");
        assert.strictEqual(rollbackSummary({ ...base, live: { color: "green" } }), "rolled back to blue; green is live");
        assert.strictEqual(rollbackSummary(base), "rolled back to blue; live color unknown (not read back)");
    });

    it("failed: the error, then the color read back when the step failed", () => {
        const live = { color: "green" as const };
        const result: RollbackResult = {
            ...base,
            ok: false,
            steps: [{ step: "switch", changes: [], seconds: 2, outcome: { kind: "failed", error: "denied", live }, result: "failed: denied; green is live" }],
            error: "denied",
            live,
        };
        assert.strictEqual(rollbackSummary(result), "rollback failed: denied; green is live");
    });
});

describe("physioflow sync, before it touches anything", () => {
    const run = (argv: string[], repoRoot = process.cwd()) =>
        runInProcess(streams => releaseMain(argv, repoRoot, { ...streams, openLocalTarget: openLocalReleaseTarget }));
    const error = (text: string) => ({ code: 2, stdout: "", stderr: `physioflow: error: ${text}\n` });

    it("one known stack and --check only; --help prints the usage", async () => {
        assert.deepStrictEqual(await run(["sync"]), error("sync needs a stack: physioflow sync <stack>"));
        assert.deepStrictEqual(await run(["sync", "qa"]), error('unknown stack "qa"; stacks: local, dev, staging, prod'));
        assert.deepStrictEqual(await run(["sync", "dev", "--force"]), error("unknown option --force; see physioflow sync --help"));
        const help = await run(["sync", "--help"]);
        assert.strictEqual(help.code, 0);
        assert.match(help.stdout, /^usage: physioflow sync <stack> \[--check\]\n/);
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-no-local-"));
        try {
            assert.deepStrictEqual(await run(["sync", "local", "--check"], root), error("there is no local stack yet; run npm run local first"));
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
