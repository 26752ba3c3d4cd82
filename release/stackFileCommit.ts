/**
 * `deploy --commit`: the stack file committed after a good deploy, so the next checkout (a
 * colleague's, the up-dev workflow's) holds the release that is live. Only that file is committed
 * (whatever else is staged stays staged), and nothing is ever pushed.
 */
import { execFile } from "child_process";
import * as path from "path";

function git(cwd: string, args: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile("git", args, { cwd }, (error, stdout, stderr) => {
            if (error) reject(new Error(`git ${args.join(" ")}: ${stderr.trim().split("\n").pop() || error.message}`));
            else resolve(stdout);
        });
    });
}

/** Refuses (one line) a stack file that `git commit` cannot take: outside a git checkout, or ignored by it. */
export async function checkCommittable(file: string): Promise<void> {
    const dir = path.dirname(file);
    let top: string;
    try {
        top = (await git(dir, ["rev-parse", "--show-toplevel"])).trim();
    } catch {
        throw new Error(`--commit: ${file} is not in a git checkout; deploy without --commit and keep the stack file yourself; nothing changed`);
    }
    const ignored = await git(top, ["check-ignore", "-q", "--", file]).then(
        () => true,
        () => false,
    );
    if (ignored) throw new Error(`--commit: ${file} is ignored by git (${top}); deploy without --commit; nothing changed`);
}

/** Commits `file` alone with `message`; resolves to the commit's short hash, or undefined when the file had no change. */
export async function commitStackFile(file: string, message: string): Promise<string | undefined> {
    await checkCommittable(file);
    const top = (await git(path.dirname(file), ["rev-parse", "--show-toplevel"])).trim();
    const relative = path.relative(top, file);
    if ((await git(top, ["status", "--porcelain", "--", relative])).trim() === "") return undefined;
    await git(top, ["add", "--", relative]);
    await git(top, ["commit", "--quiet", "-m", message, "--only", "--", relative]);
    return (await git(top, ["rev-parse", "--short", "HEAD"])).trim();
}
