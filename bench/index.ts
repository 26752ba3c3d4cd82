/**
 * `npm run bench [-- --size MB[,MB…]] [--rounds N] [--with-switch] [--skip-engine]`: this project's
 * commands against what the runbook's scripts run, on data and servers it starts itself on
 * 127.0.0.1, at each database size (default 60 and 800 MB of generated data: a 76 MB and a 932 MB
 * database). Prints Markdown tables of medians and ratios, one set per size, and writes them to
 * docs/benchmarks.md. Not a test: nothing here passes or fails on time.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startPostgres } from "../devenv/postgresServer";
import { benchDatabase, DatabaseBenchResult, median } from "./database";
import { benchEngine, EngineBenchResult } from "./engine";
import { Measurement } from "./measure";

const ROOT = path.join(__dirname, "..");
const REPORT = path.join(ROOT, "docs", "benchmarks.md");

/** The sizes `npm run bench` measures when not told: the issue's two sets, 76 MB and at least 750 MB of database. */
export const defaultBenchSizesMb = [60, 800];

interface BenchArgs {
    /** Generated data per run, in MB, in the order measured. */
    sizesMb: number[];
    rounds: number;
    withSwitch: boolean;
    skipEngine: boolean;
    out: string;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
    const args: BenchArgs = { sizesMb: defaultBenchSizesMb, rounds: 5, withSwitch: false, skipEngine: false, out: REPORT };
    for (let i = 0; i < argv.length; i++) {
        const value = () => {
            if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
            return argv[++i];
        };
        switch (argv[i]) {
            case "--size":
                args.sizesMb = value().split(",").map(Number);
                break;
            case "--rounds":
                args.rounds = Number(value());
                break;
            case "--with-switch":
                args.withSwitch = true;
                break;
            case "--skip-engine":
                args.skipEngine = true;
                break;
            case "--out":
                args.out = path.resolve(value());
                break;
            default:
                throw new Error(`unknown argument "${argv[i]}"; expected --size MB[,MB…], --rounds N, --with-switch, --skip-engine or --out FILE`);
        }
    }
    if (args.sizesMb.some(size => !Number.isFinite(size) || size < 10 || size > 20_000)) {
        throw new Error("--size takes a number of MB from 10 to 20000, or several separated by commas (e.g. 60,800)");
    }
    if (!Number.isInteger(args.rounds) || args.rounds < 1 || args.rounds > 50) throw new Error("--rounds takes a whole number from 1 to 50");
    return args;
}

async function main(): Promise<void> {
    const args = parseBenchArgs(process.argv.slice(2));
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const started = Date.now();
    const databases: DatabaseBenchResult[] = [];
    for (const sizeMb of args.sizesMb) {
        log(`bench: ${sizeMb} MB of generated data (${databases.length + 1} of ${args.sizesMb.length}) ...`);
        // A server per size: one size's files and caches do not carry into the next.
        const server = await startPostgres();
        try {
            databases.push(await benchDatabase({ server, sizeMb, rounds: args.rounds, log }));
        } finally {
            await server.stop();
        }
    }
    const engine = args.skipEngine ? undefined : await benchEngine({ rounds: args.rounds, log });
    let switchTable: string | undefined;
    if (args.withSwitch) {
        log("bench: npm run bench:switch ...");
        const run = spawnSync("npm", ["run", "--silent", "bench:switch"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        if (run.status !== 0) throw new Error("npm run bench:switch failed (see above)");
        switchTable = run.stdout.trim();
    }
    const report = renderReport({ args, databases, engine, switchTable, minutes: (Date.now() - started) / 60_000 });
    // The figures from before the backup was reworked stay in the file, under their own heading.
    const previous = fs.existsSync(args.out) ? fs.readFileSync(args.out, "utf8") : "";
    const before = previous.indexOf("\n## Before");
    fs.writeFileSync(args.out, before === -1 ? report : `${report.trimEnd()}\n${previous.slice(before)}`);
    process.stdout.write(report);
    log(`bench: written to ${path.relative(process.cwd(), args.out)}`);
}

function ms(value: number): string {
    return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function spans(command: string, phases: { phase: string; ms: number }[]): string[] {
    return [
        `Where \`${command}\` spends its time (median per span, each ending with the progress line named):`,
        "",
        "| span ending at | median |",
        "| --- | --- |",
        ...phases.map(p => `| ${p.phase.replace(/\|/g, "\\|")} | ${ms(p.ms)} |`),
        "",
    ];
}

function pairRow(m: Measurement): string[] {
    const a = median(m.a.runs);
    const b = median(m.b.runs);
    return [`| ${m.a.label} | ${ms(a)} | ${m.b.label} | ${ms(b)} | **${(a / b).toFixed(2)}x** | ${m.a.runs.length} |`];
}

function renderReport(input: { args: BenchArgs; databases: DatabaseBenchResult[]; engine?: EngineBenchResult; switchTable?: string; minutes: number }): string {
    const { databases, engine } = input;
    const date = new Date().toISOString().slice(0, 10);
    const sizes = input.args.sizesMb.join(",");
    const lines = [
        "# Benchmarks",
        "",
        `\`npm run bench${sizes === defaultBenchSizesMb.join(",") ? "" : ` -- --size ${sizes}`}\` on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "unknown CPU"}), ${date}; ` +
            `PostgreSQL, engine and control plane on 127.0.0.1; whole run ${input.minutes.toFixed(1)} min; ` +
            `load average ${os.loadavg()[0].toFixed(1)} at its end (a busy machine widens every ratio's noise). ` +
            "Medians of paired rounds (A and B alternate, after one unmeasured run of each); ratio A/B.",
        "",
    ];
    for (const database of databases) {
        lines.push(
            `## A ${(database.databaseBytes / 1e6).toFixed(0)} MB database (\`pg_dump -Fc\` ${(database.dumpBytes / 1e6).toFixed(0)} MB)`,
            "",
            "| A: this project | median | B: runbook / raw tool | median | A/B | rounds |",
            "| --- | --- | --- | --- | --- | --- |",
            ...database.pairs.flatMap(pairRow),
            "",
            "Peak memory (largest process, GNU time's maximum resident set size):",
            "",
            "| | peak RSS |",
            "| --- | --- |",
            `| one \`backup create\` (node, and the pg_dump it runs) | ${(database.peakRssKb.backup / 1024).toFixed(0)} MB |`,
            `| one \`pg_dump -Fc\` | ${(database.peakRssKb.pgDump / 1024).toFixed(0)} MB |`,
            `| one \`backup verify\` (node, and the pg_restore runs it feeds) | ${(database.peakRssKb.verify / 1024).toFixed(0)} MB |`,
            `| one \`backup restore\` (node, pg_restore, psql) | ${(database.peakRssKb.restore / 1024).toFixed(0)} MB |`,
            `| one \`pg_restore --single-transaction\` | ${(database.peakRssKb.pgRestore / 1024).toFixed(0)} MB |`,
            "",
            ...spans("backup create", database.backupPhases),
            ...spans("backup verify", database.verifyPhases),
            ...spans("backup restore", database.restorePhases),
        );
    }
    if (engine) {
        lines.push(
            "## Program and engine",
            "",
            "No pair: the runbook has no equivalent.",
            "",
            "| | median | rounds |",
            "| --- | --- | --- |",
            ...engine.rows.map(r => `| ${r.label} | ${ms(median(r.runs))} | ${r.runs.length} |`),
            "",
        );
    }
    lines.push(
        input.switchTable
            ? `## Switching the live Service\n\n\`npm run bench:switch\`, run as part of this run:\n\n${input.switchTable}\n`
            : "Switching the live Service: see `npm run bench:switch` and its figures below (run here with `--with-switch`).\n",
    );
    return `${lines.join("\n")}\n`;
}

if (require.main === module) {
    main().catch(error => {
        process.stderr.write(`bench: error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
        process.exitCode = 1;
    });
}
