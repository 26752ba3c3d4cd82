/**
 * Starts tests/support/deployChild.ts: a `physioflow deploy` in a process group of its own, as a
 * second terminal's would be, that a test can watch line by line and kill outright (SIGKILL to the
 * group, its Pulumi CLI included).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import type { DeployResult } from "../../release/types";

export interface DeployChildArgs {
    /** The test stack's directories (ScratchClusterStack `dirs`). */
    stack: unknown;
    /** The kubectl binary and the kubeconfig of the control plane. */
    kubectl: string;
    kubeconfig: string;
    namespace: string;
    tag: string;
    watchSeconds: number;
}

export interface DeployChild {
    /** Its lines so far. */
    lines: string[];
    /** Resolves when it exits: its `result:` line parsed (when it printed one) and its exit code. */
    done: Promise<{ result?: DeployResult; code: number | null }>;
    /** True once it printed its `result:` or `error:` line. */
    ended: () => boolean;
    /** SIGKILL to its process group (unless it has exited), then waits for the exit. */
    kill: () => Promise<void>;
    /**
     * SIGSTOP to its process group (it and its Pulumi CLI), SIGCONT to go on: holds it inside what it
     * is doing (an update stays in progress) while a test acts. Its lock is not renewed meanwhile:
     * keep it short.
     */
    pause: () => void;
    resume: () => void;
}

export function spawnDeployChild(args: DeployChildArgs): DeployChild {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "deployChild.ts"), JSON.stringify(args)], {
        detached: true,
        stdio: ["ignore", "pipe", "inherit"],
        cwd: path.join(__dirname, "..", ".."),
    });
    const lines: string[] = [];
    let result: DeployResult | undefined;
    let ended = false;
    readline.createInterface({ input: child.stdout }).on("line", line => {
        lines.push(line);
        if (line.startsWith("result: ")) result = JSON.parse(line.slice("result: ".length));
        if (/^(result|error): /.test(line)) ended = true;
    });
    let exited = false;
    /** `signal` to its process group, unless it has exited. */
    const signalGroup = (signal: NodeJS.Signals) => {
        if (!exited) process.kill(-child.pid!, signal);
    };
    const done = new Promise<{ result?: DeployResult; code: number | null }>(resolve =>
        child.on("exit", code => {
            exited = true;
            resolve({ result, code });
        }),
    );
    return {
        lines,
        done,
        ended: () => ended,
        pause: () => signalGroup("SIGSTOP"),
        resume: () => signalGroup("SIGCONT"),
        kill: async () => {
            if (exited) return;
            // The Pulumi CLI starts its provider plugins in process groups of their own: found by parentage first.
            const plugins = descendants(child.pid!);
            process.kill(-child.pid!, "SIGKILL");
            for (const pid of plugins) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    // gone already
                }
            }
            await done;
        },
    };
}

/** Every process below `pid` (children, their children...), read from /proc. */
function descendants(pid: number): number[] {
    const parentOf = new Map<number, number>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            // The fields after the command name (which may hold spaces) start after its closing parenthesis.
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            // exited meanwhile
        }
    }
    const found: number[] = [];
    const walk = (parent: number) => {
        for (const [child, ppid] of parentOf) {
            if (ppid === parent) {
                found.push(child);
                walk(child);
            }
        }
    };
    walk(pid);
    return found;
}
