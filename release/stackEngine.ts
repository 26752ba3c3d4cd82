/**
 * The two engine calls every release step makes, each with fewer Pulumi CLI runs than the
 * Automation API's own. A CLI run costs 0.4 s of CPU before it does anything, 0.6 s when it opens the
 * stack's secrets (the passphrase's key derivation), and 1-3 s on a busy machine; a rollback is a few
 * steps in a row, so these are seconds of every incident (docs/benchmarks.md, "Engine calls").
 */
import * as auto from "@pulumi/pulumi/automation";
import { execFile } from "child_process";

/**
 * `stack.up(options)` without what the Automation API reads after it: its `up` runs `pulumi stack
 * output` twice and `pulumi stack history` once more to fill in `outputs` and `summary`, three CLI
 * runs after every update that no caller here reads (they follow the update through `onEvent`, and
 * read outputs when they need them, with {@link lastOutputs}). Fails as `stack.up` fails.
 */
export async function upStack(stack: auto.Stack, options: auto.UpOptions = {}): Promise<void> {
    // The same Stack, with the two reads that only fill in the result answered empty.
    const bare = Object.create(stack) as auto.Stack;
    bare.outputs = () => Promise.resolve({});
    bare.info = () => Promise.resolve(undefined);
    await stack.up.call(bare, options);
}

/**
 * The stack's last outputs as plain values (secrets shown): one `pulumi stack output --json
 * --show-secrets`, where `stack.outputs()` runs it twice (once masked, to tell which are secret).
 * Rejects with one line: `pulumi stack output: <its last error line>`.
 */
export function lastOutputs(stack: auto.Stack): Promise<Record<string, unknown>> {
    const workspace = stack.workspace;
    const env = {
        ...process.env,
        ...(workspace.pulumiHome !== undefined ? { PULUMI_HOME: workspace.pulumiHome } : {}),
        ...workspace.envVars,
        PULUMI_AUTOMATION_API: "true",
    };
    const args = ["stack", "output", "--json", "--show-secrets", "--non-interactive", "--stack", stack.name];
    return new Promise((resolve, reject) => {
        execFile(workspace.pulumiCommand.command, args, { cwd: workspace.workDir, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) reject(new Error(`pulumi stack output: ${stderr.trim().split("\n").pop() || error.message}`));
            else resolve(JSON.parse(stdout) as Record<string, unknown>);
        });
    });
}
