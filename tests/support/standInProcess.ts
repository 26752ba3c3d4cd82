/**
 * One stand-in app (devenv/apps/) as a process on a free loopback port, for tests: started with the
 * environment given (nothing inherited but PATH), ready once it logs that it listens.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import { freeLoopbackPort } from "../../devenv/freePorts";

export interface StandInProcess {
    /** http://127.0.0.1:PORT */
    url: string;
    child: ChildProcess;
    /** Everything it logged so far. */
    log(): string;
    /** Resolves with the exit code (or signal) when it ends. */
    exited: Promise<number | NodeJS.Signals>;
    /** SIGKILL if still running; safe to call twice. */
    kill(): void;
}

/** Starts `binary` on 127.0.0.1 and a free port with `env`; rejects with its log when it exits before it listens. */
export async function startStandIn(binary: string, env: Record<string, string>, args: string[] = []): Promise<StandInProcess> {
    const port = await freeLoopbackPort();
    const child = spawn(binary, args, {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LISTEN_ADDRESS: "127.0.0.1", PORT: String(port), ...env },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    const exited = new Promise<number | NodeJS.Signals>(resolve => child.on("exit", (code, signal) => resolve(code ?? signal ?? 1)));
    await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", chunk => {
            log += chunk;
            if (log.includes("listening on")) resolve();
        });
        void exited.then(code => reject(new Error(`${binary} exited (${code}) before it listened:\n${log}`)));
    });
    return {
        url: `http://127.0.0.1:${port}`,
        child,
        log: () => log,
        exited,
        kill: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        },
    };
}

/** The page at `url` and the chunks its script tags name, as text. */
export async function pageAndChunks(url: string): Promise<{ page: string; chunks: Record<string, string> }> {
    const page = await (await fetch(`${url}/`)).text();
    const chunks: Record<string, string> = {};
    for (const [, src] of page.matchAll(/<script src="([^"]+)"/g)) {
        const response = await fetch(`${url}${src}`);
        assert.strictEqual(response.status, 200, src);
        chunks[src] = await response.text();
    }
    return { page, chunks };
}
