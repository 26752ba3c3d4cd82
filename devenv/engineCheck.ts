/**
 * `npm run engine -- --check` (scripts/engine.sh --check, through scripts/engine-check.ts): an
 * end-to-end smoke test of the engine this machine has (devenv/engine.ts). A throwaway project in a
 * temp dir: `pulumi up` of a kubernetes ConfigMap rendered to a folder, plus a `command.local.Command`
 * and a postgresql Role and Database on a throwaway server (devenv/postgresServer.ts) when those
 * plugins are there; the outputs read through the Automation API; `pulumi destroy`. Any download
 * attempt fails (a dead proxy), and a plugin the engine installed is a failure too. docs/engine.md.
 */
import * as auto from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { findEngine, PulumiEngine } from "./engine";
import { withEngineTemp } from "./engineTemp";
import { PostgresServer, startPostgres } from "./postgresServer";

/** A failed check: `message` is its one line; `details` (a log) is worth printing before it. */
export class EngineCheckError extends Error {
    constructor(
        message: string,
        readonly details?: string,
    ) {
        super(message);
    }
}

/** Where the engine would find a plugin without downloading it. */
export interface PluginPlaces {
    /** The PATH the engine runs with (ambient plugins). */
    pathVariable: string;
    /** The `pulumi` binary: language hosts beside it are "bundled". */
    pulumiPath: string;
    /** The plugin cache (`$PULUMI_HOME/plugins`), when there is one. */
    pluginsDir?: string;
}

/**
 * The path of plugin `pulumi-<kind>-<name>`: on PATH, beside `pulumi` (language hosts only), or in
 * the plugin cache at `version` (a download still in progress, `<dir>.partial`, does not count).
 */
export function findPlugin(kind: "language" | "resource", name: string, version: string, places: PluginPlaces): string | undefined {
    const exe = `pulumi-${kind}-${name}`;
    const candidates = places.pathVariable
        .split(":")
        .filter(dir => dir !== "")
        .map(dir => path.join(dir, exe));
    if (kind === "language") candidates.push(path.join(path.dirname(realPath(places.pulumiPath)), exe));
    const found = candidates.find(isExecutable);
    if (found !== undefined) return found;
    if (places.pluginsDir === undefined) return undefined;
    const cached = path.join(places.pluginsDir, `${kind}-${name}-v${version}`);
    return isExecutable(path.join(cached, exe)) && !fs.existsSync(`${cached}.partial`) ? path.join(cached, exe) : undefined;
}

/** The check's `index.ts`: always the rendered ConfigMap; the command and postgresql parts when their plugins are there. */
export function engineCheckProgram(parts: { command: boolean; postgresql: boolean }): string {
    const lines = [
        'import * as pulumi from "@pulumi/pulumi";',
        'import * as k8s from "@pulumi/kubernetes";',
        "",
        "// No cluster: the provider writes the manifests to a directory instead.",
        'const render = new k8s.Provider("render", { renderYamlToDirectory: process.env.ENGINE_CHECK_RENDER_DIR! });',
        'const cm = new k8s.core.v1.ConfigMap("engine-check", {',
        '    metadata: { name: "engine-check", namespace: "default" },',
        '    data: { greeting: "hello from scripts/engine.sh" },',
        "}, { provider: render });",
        "export const configMapName = cm.metadata.name;",
    ];
    if (parts.command) {
        lines.push(
            "",
            'import * as command from "@pulumi/command";',
            'const echo = new command.local.Command("engine-check", { create: "echo engine-check-ok" });',
            "export const commandStdout = echo.stdout;",
        );
    }
    if (parts.postgresql) {
        lines.push(
            "",
            'import * as postgresql from "@pulumi/postgresql";',
            'const pg = new postgresql.Provider("pg", {',
            '    host: "127.0.0.1", port: Number(process.env.ENGINE_CHECK_PG_PORT), username: process.env.ENGINE_CHECK_PG_USER,',
            '    password: pulumi.secret(process.env.ENGINE_CHECK_PG_PASSWORD!), sslmode: "disable", superuser: true, database: "postgres",',
            "});",
            'const role = new postgresql.Role("engine-check", { name: "engine_check", login: true }, { provider: pg });',
            'const db = new postgresql.Database("engine-check", { name: "engine_check", owner: role.name }, { provider: pg });',
            "export const databaseName = db.name;",
        );
    }
    return `${lines.join("\n")}\n`;
}

/**
 * Runs the check; `say` receives its progress lines ("check: ..."). Resolves when everything
 * passed; throws an {@link EngineCheckError} naming what failed. `keep` leaves the temp dir.
 */
export async function checkEngine(repoRoot: string, say: (line: string) => void, keep = false): Promise<void> {
    // scripts/engine.sh --check has built what was missing already: this lookup takes a second.
    const engine = await findEngine().catch(error => {
        throw new EngineCheckError((error as Error).message);
    });
    const places = { pathVariable: engine.env.PATH ?? process.env.PATH ?? "", pulumiPath: engine.pulumiPath, pluginsDir: engine.pluginsDir };
    const sdkVersion = (name: string) => readSdkPluginVersion(repoRoot, name);
    if (!findPlugin("language", "nodejs", engine.version, places)) throw new EngineCheckError("no pulumi-language-nodejs next to pulumi or on PATH");
    if (!findPlugin("resource", "kubernetes", sdkVersion("kubernetes"), places)) throw new EngineCheckError("no pulumi-resource-kubernetes plugin");
    const parts = {
        command: findPlugin("resource", "command", sdkVersion("command"), places) !== undefined,
        postgresql: findPlugin("resource", "postgresql", sdkVersion("postgresql"), places) !== undefined,
    };

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-engine-check."));
    let server: PostgresServer | undefined;
    try {
        const project = writeProject(dir, repoRoot, engine, parts);
        if (parts.postgresql) {
            server = await startPostgres().catch(error => {
                throw new EngineCheckError("could not start a throwaway PostgreSQL server", (error as Error).message);
            });
            say(`check: PostgreSQL on 127.0.0.1:${server.port}`);
        }
        await runCheck(engine, dir, project, parts, server, say);
    } finally {
        await server?.stop();
        if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function runCheck(
    engine: PulumiEngine,
    dir: string,
    project: string,
    parts: { command: boolean; postgresql: boolean },
    server: PostgresServer | undefined,
    say: (line: string) => void,
): Promise<void> {
    const home = path.join(dir, "home");
    const env: Record<string, string> = withEngineTemp({
        ...engine.env,
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "engine-check",
        ENGINE_CHECK_RENDER_DIR: path.join(dir, "rendered"),
        PULUMI_NODEJS_TRANSPILE_ONLY: "true", // type checking is npm run build's job; keeps this fast
        // Any download attempt would go through this dead proxy and fail loudly.
        HTTPS_PROXY: "http://127.0.0.1:9",
        HTTP_PROXY: "http://127.0.0.1:9",
        NO_PROXY: "127.0.0.1,localhost",
        ...(server ? { ENGINE_CHECK_PG_PORT: String(server.port), ENGINE_CHECK_PG_USER: server.user, ENGINE_CHECK_PG_PASSWORD: server.password } : {}),
    });
    const pulumi = (args: string[], log: string) => {
        const result = spawnSync(engine.pulumiPath, args, { cwd: project, env: { ...process.env, ...env }, encoding: "utf8" });
        const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
        fs.writeFileSync(path.join(dir, log), output);
        return { ok: result.status === 0, output };
    };
    const start = Date.now();
    say(`check: ${engine.pulumiPath} v${engine.version}; project in ${project}`);
    say(
        `check: resources: kubernetes ConfigMap (renderYamlToDirectory)${parts.command ? ", command.local.Command" : ""}${parts.postgresql ? ", postgresql Role + Database" : ""}`,
    );
    const pluginsBefore = listDir(path.join(home, "plugins"));

    let run = pulumi(["login", env.PULUMI_BACKEND_URL], "login.log");
    if (!run.ok) throw new EngineCheckError("pulumi login file:// failed", run.output);
    run = pulumi(["stack", "init", "check", "--non-interactive"], "init.log");
    if (!run.ok) throw new EngineCheckError("pulumi stack init failed", run.output);
    const up = pulumi(["up", "--yes", "--non-interactive", "--color", "never"], "up.log");
    if (!up.ok) throw new EngineCheckError("pulumi up failed (log above)", up.output.trimEnd().replace(/^/gm, "    | "));
    if (!filesUnder(env.ENGINE_CHECK_RENDER_DIR).some(file => fs.readFileSync(file, "utf8").includes("hello from scripts/engine.sh"))) {
        throw new EngineCheckError(`the ConfigMap was not rendered to ${env.ENGINE_CHECK_RENDER_DIR}`);
    }
    if (parts.command && pulumi(["stack", "output", "commandStdout"], "output.log").output.trim() !== "engine-check-ok") {
        throw new EngineCheckError("command.local.Command did not run");
    }
    if (server && !(await databaseExists(server, "engine_check"))) {
        throw new EngineCheckError("the postgresql provider did not create the database");
    }
    // The Automation API checks the CLI version before it does anything.
    try {
        const stack = await auto.LocalWorkspace.selectStack({ stackName: "check", workDir: project }, { pulumiCommand: engine.command, envVars: env });
        const outputs = await stack.outputs();
        say(`check: automation API: pulumi ${stack.workspace.pulumiVersion}, configMapName=${outputs.configMapName.value}`);
    } catch (error) {
        throw new EngineCheckError("the Node Automation API could not drive the CLI", String(error));
    }
    run = pulumi(["destroy", "--yes", "--non-interactive", "--color", "never"], "destroy.log");
    if (!run.ok) throw new EngineCheckError("pulumi destroy failed", run.output);
    const installed = listDir(path.join(home, "plugins")).filter(name => !pluginsBefore.includes(name));
    if (installed.length > 0) throw new EngineCheckError(`the engine installed plugins into ${path.join(home, "plugins")}: ${installed.join(" ")} `);

    const warnings = [...new Set(up.output.match(/warning: .*/g) ?? [])].sort().map(line => `    ${line}`);
    if (warnings.length > 0) say(`check: the engine warned (expected, see docs/engine.md):\n${warnings.join("\n")}`);
    say(`check: OK in ${Math.round((Date.now() - start) / 1000)}s: up, outputs via the Automation API, destroy; no plugin download`);
    if (!parts.command) say("check: SKIPPED command.local.Command: no pulumi-resource-command plugin");
    if (!parts.postgresql) say("check: SKIPPED postgresql: no pulumi-resource-postgresql plugin");
}

/** The project: Pulumi.yaml, package.json, index.ts, and this repository's node_modules through a symlink; the PULUMI_HOME. */
function writeProject(dir: string, repoRoot: string, engine: PulumiEngine, parts: { command: boolean; postgresql: boolean }): string {
    const project = path.join(dir, "project");
    for (const sub of [project, path.join(dir, "state"), path.join(dir, "home")]) fs.mkdirSync(sub, { recursive: true });
    // The check's own PULUMI_HOME sees the plugins an ordinary install keeps in the user's (read only: downloads are off).
    if (engine.pluginsDir !== undefined) fs.symlinkSync(engine.pluginsDir, path.join(dir, "home", "plugins"));
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(project, "node_modules"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: engine-check\nruntime: nodejs\ndescription: smoke test of scripts/engine.sh\n");
    fs.writeFileSync(path.join(project, "package.json"), '{ "name": "engine-check", "private": true, "main": "index.ts" }\n');
    fs.writeFileSync(path.join(project, "index.ts"), engineCheckProgram(parts));
    return project;
}

/** The plugin version an SDK in node_modules asks for (its package.json's `pulumi.version`). */
function readSdkPluginVersion(repoRoot: string, name: string): string {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", "@pulumi", name, "package.json"), "utf8")) as {
        version: string;
        pulumi?: { version?: string };
    };
    return manifest.pulumi?.version ?? manifest.version;
}

async function databaseExists(server: PostgresServer, name: string): Promise<boolean> {
    const client = new Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: "postgres" });
    await client.connect();
    try {
        return (await client.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1;
    } finally {
        await client.end();
    }
}

function filesUnder(dir: string): string[] {
    return listDir(dir).flatMap(name => {
        const full = path.join(dir, name);
        return fs.statSync(full).isDirectory() ? filesUnder(full) : [full];
    });
}

function listDir(dir: string): string[] {
    try {
        return fs.readdirSync(dir);
    } catch {
        return [];
    }
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

function realPath(file: string): string {
    try {
        return fs.realpathSync(file);
    } catch {
        return file;
    }
}
