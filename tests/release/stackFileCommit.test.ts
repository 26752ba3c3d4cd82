/**
 * `deploy --commit`'s git half (release/stackFileCommit.ts) with the real git in a temp repository:
 * the stack file alone is committed, what else is staged stays staged, nothing is pushed; a file
 * outside a checkout or ignored by it is refused before anything changes.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkCommittable, commitStackFile } from "../../release/stackFileCommit";

describe("deploy --commit: the stack file committed alone", () => {
    let dir: string;
    const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8" }).trim();
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-commit-"));
        git("init", "--quiet");
        git("config", "user.email", "ops@example.test");
        git("config", "user.name", "ops");
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), "config:\n  physioflow:activeColor: blue\n");
        fs.writeFileSync(path.join(dir, "notes.md"), "one\n");
        fs.writeFileSync(path.join(dir, ".gitignore"), ".local/\n");
        git("add", ".");
        git("commit", "--quiet", "-m", "start");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("commits the stack file with the message; another staged change stays staged and uncommitted; no change: nothing committed", async () => {
        const file = path.join(dir, "Pulumi.prod.yaml");
        fs.writeFileSync(file, "config:\n  physioflow:activeColor: green\n");
        fs.writeFileSync(path.join(dir, "notes.md"), "two\n");
        git("add", "notes.md");
        const hash = await commitStackFile(file, "prod: v1.1.0 live on green (physioflow deploy)");
        assert.strictEqual(hash, git("rev-parse", "--short", "HEAD"));
        assert.strictEqual(git("log", "-1", "--format=%s"), "prod: v1.1.0 live on green (physioflow deploy)");
        assert.strictEqual(git("show", "--name-only", "--format=", "HEAD"), "Pulumi.prod.yaml");
        assert.strictEqual(git("status", "--porcelain"), "M  notes.md");
        assert.strictEqual(await commitStackFile(file, "again"), undefined);
        assert.strictEqual(git("rev-list", "--count", "HEAD"), "2");
    });

    it("refuses a stack file outside a git checkout, or ignored by it", async () => {
        const outside = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-no-git-"));
        try {
            const file = path.join(outside, "Pulumi.dev.yaml");
            await assert.rejects(checkCommittable(file), {
                message: `--commit: ${file} is not in a git checkout; deploy without --commit and keep the stack file yourself; nothing changed`,
            });
        } finally {
            fs.rmSync(outside, { recursive: true, force: true });
        }
        fs.mkdirSync(path.join(dir, ".local"));
        const ignored = path.join(dir, ".local", "Pulumi.local.yaml");
        fs.writeFileSync(ignored, "config: {}\n");
        const top = git("rev-parse", "--show-toplevel");
        await assert.rejects(checkCommittable(ignored), {
            message: `--commit: ${ignored} is ignored by git (${top}); deploy without --commit; nothing changed`,
        });
        await checkCommittable(path.join(dir, "Pulumi.prod.yaml"));
    });
});
