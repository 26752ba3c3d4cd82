/**
 * Finds the Pulumi engine that scripts/engine.sh provides (a built one in its cache, or an
 * ordinary install it accepts) and hands it to the Automation API. Never downloads anything.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runWithProgress } from "./processes";

/** The engine to run stacks with. */
export interface PulumiEngine {
    /** The CLI, for `LocalWorkspace` (`pulumiCommand`). */
    command: auto.PulumiCommand;
    /** Path of the `pulumi` binary. */
    pulumiPath: string;
    /** What `pulumi version` printed, e.g. "3.248.0". */
    version: string;
    /** Variables engine.sh exports (PATH with the engine's bin, no plugin downloads, no update check). */
    env: Record<string, string>;
    /** The plugin cache of the user's own PULUMI_HOME, when it exists: an ordinary install keeps its plugins there. */
    pluginsDir?: string;
}

const repoRoot = path.resolve(__dirname, "..");
const marker = "--physioflow-engine--";

/**
 * Runs `bash scripts/engine.sh --env` (which builds what is missing) and returns the engine it
 * describes. Throws one line that says to run `npm run engine` when there is none.
 * `progress` receives engine.sh's build progress lines (a build from empty caches takes ~15 min).
 */
export async function findEngine(progress: (line: string) => void = () => undefined): Promise<PulumiEngine> {
    const script = [
        `env -0; printf '%s\\0' ${marker}`,
        'exports=$(bash "$0" --env) || exit $?',
        'eval "$exports"',
        `env -0; printf '%s\\0' ${marker}`,
        "command -v pulumi || true",
    ].join("\n");
    const { status, stdout, stderr } = await runWithProgress("bash", ["-c", script, path.join(repoRoot, "scripts", "engine.sh")], line => {
        if (isBuildProgress(line)) progress(line);
    });
    const howToFix = 'run "npm run engine" (docs/engine.md)';
    if (status !== 0) {
        throw new Error(`the Pulumi engine is not available: ${lastLine(stderr) || `scripts/engine.sh exited with ${status}`}; ${howToFix}`);
    }
    const { env, pulumiPath } = parseEngineEnvironment(stdout);
    if (!pulumiPath) {
        throw new Error(`the Pulumi engine is not available: scripts/engine.sh succeeded but no pulumi is on its PATH; ${howToFix}`);
    }
    let command: auto.PulumiCommand;
    try {
        command = await auto.PulumiCommand.get({ root: cliRoot(pulumiPath) });
    } catch (error) {
        throw new Error(`the Pulumi engine at ${pulumiPath} does not work: ${firstLine(error)}; ${howToFix}`, { cause: error });
    }
    const pluginsDir = path.join(process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi"), "plugins");
    return {
        command,
        pulumiPath,
        version: command.version?.toString() ?? "unknown",
        env,
        pluginsDir: fs.existsSync(pluginsDir) ? pluginsDir : undefined,
    };
}

/**
 * Reads what the script above prints: the environment before and after engine.sh's exports
 * (NUL-separated `env -0` lists, each ended by the marker), then the path of `pulumi`.
 * Returns the variables the exports added or changed.
 */
export function parseEngineEnvironment(output: string): { env: Record<string, string>; pulumiPath: string } {
    const [before, after, rest] = output.split(`${marker}\0`);
    if (after === undefined || rest === undefined) {
        throw new Error("unexpected output from scripts/engine.sh --env (the environment was not printed)");
    }
    const parse = (list: string) =>
        new Map(
            list
                .split("\0")
                .filter(entry => entry.includes("="))
                .map(entry => {
                    const at = entry.indexOf("=");
                    return [entry.slice(0, at), entry.slice(at + 1)] as const;
                }),
        );
    const old = parse(before);
    const env: Record<string, string> = {};
    for (const [key, value] of parse(after)) {
        if (old.get(key) !== value) env[key] = value;
    }
    return { env, pulumiPath: rest.trim() };
}

/**
 * The Automation API runs `<root>/bin/pulumi`. A `pulumi` that is not in a `bin` directory
 * (e.g. an unpacked release archive) gets a `bin` symlink in a temp dir.
 */
function cliRoot(pulumiPath: string): string {
    if (path.basename(path.dirname(pulumiPath)) === "bin") {
        return path.dirname(path.dirname(pulumiPath));
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-pulumi-"));
    fs.mkdirSync(path.join(root, "bin"));
    fs.symlinkSync(fs.realpathSync(pulumiPath), path.join(root, "bin", "pulumi"));
    return root;
}

/** engine.sh's lines worth showing while it builds (it is silent when everything is built). */
export function isBuildProgress(line: string): boolean {
    return /: building |: done in /.test(line);
}

function lastLine(text: string): string {
    return text.trim().split("\n").pop()?.trim() ?? "";
}

function firstLine(error: unknown): string {
    return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
