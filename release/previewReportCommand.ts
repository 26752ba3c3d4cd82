/**
 * `npm run preview:report -- <stack>...`: the pull-request preview report (release/previewReport.ts)
 * written locally, or by the workflow from the pulumi/actions steps' outputs. A stack with
 * `--preview-output` is reported from that text and needs no engine; the others are previewed
 * through the Automation API (dev, staging and prod as the project's stacks, `local` as the stack
 * `npm run local` keeps in `.local/`).
 */
import * as auto from "@pulumi/pulumi/automation";
import { withEngineTemp } from "../devenv/engineTemp";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { OperationError, UsageError } from "../database/errors";
import type { OpenLocalTarget } from "./types";
import { formatPreviewReport, MigrationsLocation, previewFromOutput, previewStack, StackPreview, stackFileSetting, versionOrUndefined } from "./previewReport";

export const PREVIEW_REPORT_HELP = `usage: npm run preview:report -- <stack>... [--preview-output [STACK=]FILE]... [--applied-version [STACK=]NNN]... [--out FILE]

Writes the pull-request preview report as Markdown: per stack, the infrastructure diff, the
pending migrations and their blue-green lint. <stack>: dev, staging, prod or local.

  --preview-output [STACK=]FILE  the text of a \`pulumi preview --diff\` of the stack (e.g. the
                                 pulumi/actions step's output); without it the stack is previewed here
  --applied-version [STACK=]NNN  the stack's last migrationVersion output, with --preview-output
                                 (empty or absent: unknown, every migration file is listed)
  --out FILE                     write the report to FILE instead of stdout
  --verbose                      a stack trace with an error`;

/** The stacks the report knows. */
export const REPORT_STACKS = ["dev", "staging", "prod", "local"];

export interface PreviewReportArgs {
    stacks: string[];
    /** Stack name -> file with its `pulumi preview --diff` text. */
    previewOutputs: Record<string, string>;
    /** Stack name -> its applied migration version; undefined: unknown. */
    appliedVersions: Record<string, string | undefined>;
    out?: string;
    verbose: boolean;
    help: boolean;
}

/** Parses the arguments; throws {@link UsageError} with one line. */
export function parsePreviewReportArgs(argv: readonly string[]): PreviewReportArgs {
    const args: PreviewReportArgs = { stacks: [], previewOutputs: {}, appliedVersions: {}, verbose: false, help: false };
    const perStack: { option: string; value: string }[] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = () => {
            const v = inline ?? argv[++i];
            if (v === undefined) throw new UsageError(`${name} needs a value; see npm run preview:report -- --help`);
            return v;
        };
        if (name === "--help" || name === "-h") args.help = true;
        else if (name === "--verbose" || name === "-v") args.verbose = true;
        else if (name === "--out") args.out = value();
        else if (name === "--preview-output" || name === "--applied-version") perStack.push({ option: name, value: value() });
        else if (name.startsWith("-")) throw new UsageError(`unknown option ${name}; see npm run preview:report -- --help`);
        else if (!REPORT_STACKS.includes(name)) throw new UsageError(`unknown stack "${name}"; stacks: ${REPORT_STACKS.join(", ")}`);
        else if (args.stacks.includes(name)) throw new UsageError(`stack "${name}" is given twice`);
        else args.stacks.push(name);
    }
    if (args.help) return args;
    if (args.stacks.length === 0) throw new UsageError("preview:report needs a stack: npm run preview:report -- <stack> (dev, staging, prod or local)");
    for (const { option, value } of perStack) {
        const [stack, text] = splitStackValue(option, value, args.stacks);
        if (option === "--preview-output") {
            if (text === "") throw new UsageError("--preview-output needs a file name");
            args.previewOutputs[stack] = text;
        } else {
            if (text !== "" && versionOrUndefined(text) === undefined) throw new UsageError(`--applied-version "${text}" is not a migration version like 005`);
            args.appliedVersions[stack] = text === "" ? undefined : text;
        }
    }
    for (const stack of Object.keys(args.appliedVersions)) {
        if (!(stack in args.previewOutputs))
            throw new UsageError(`--applied-version for ${stack} needs --preview-output for ${stack} (a stack previewed here reports its own)`);
    }
    return args;
}

/** `dev=FILE` -> [dev, FILE]; a plain `FILE` belongs to the only stack given. */
function splitStackValue(option: string, value: string, stacks: readonly string[]): [string, string] {
    const at = value.indexOf("=");
    const prefix = at > 0 ? value.slice(0, at) : undefined;
    if (prefix !== undefined && REPORT_STACKS.includes(prefix)) {
        if (!stacks.includes(prefix))
            throw new UsageError(`${option} ${value} names stack "${prefix}", which is not in the stacks given (${stacks.join(", ")})`);
        return [prefix, value.slice(at + 1)];
    }
    if (stacks.length !== 1)
        throw new UsageError(`${option} ${value} names no stack; with several stacks write STACK=${option === "--preview-output" ? "FILE" : "NNN"}`);
    return [stacks[0], value];
}

export interface PreviewReportIo {
    stdout: Writable;
    stderr: Writable;
    /** The repository: Pulumi.yaml, the stack files, `migrations/` and `.local/`. */
    repoRoot: string;
    /** Opens the `local` stack, to preview it (scripts/preview-report.ts passes local/releaseTarget.ts's). */
    openLocalTarget?: OpenLocalTarget;
}

/** Runs the command; returns the exit code (0: report written). Errors are thrown for the caller to print as one line. */
export async function previewReportCommand(argv: readonly string[], io: PreviewReportIo): Promise<number> {
    const args = parsePreviewReportArgs(argv);
    if (args.help) {
        io.stdout.write(`${PREVIEW_REPORT_HELP}\n`);
        return 0;
    }
    const migrations: MigrationsLocation = { dir: path.join(io.repoRoot, "migrations"), displayRoot: io.repoRoot };
    const texts: Record<string, string> = {};
    for (const [stack, file] of Object.entries(args.previewOutputs)) {
        try {
            texts[stack] = fs.readFileSync(file, "utf8");
        } catch (error) {
            throw new UsageError(`cannot read --preview-output ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
    }
    const previews: StackPreview[] = [];
    for (const stack of args.stacks) {
        previews.push(
            stack in texts
                ? await previewFromOutput(
                      stack,
                      texts[stack],
                      migrations,
                      args.appliedVersions[stack],
                      versionOrUndefined(stackFileSetting(io.repoRoot, stack, "migrationTarget")),
                      stackFileSetting(io.repoRoot, stack, "holdMigrations") === "true",
                  )
                : await previewWithEngine(stack, migrations, io),
        );
    }
    const report = formatPreviewReport(previews);
    if (args.out) fs.writeFileSync(args.out, report);
    else io.stdout.write(report);
    return 0;
}

async function previewWithEngine(stackName: string, migrations: MigrationsLocation, io: PreviewReportIo): Promise<StackPreview> {
    const progress = (line: string) => io.stderr.write(`${line}\n`);
    if (stackName === "local") {
        // A caller's mistake, not the user's: the entry point passes one.
        if (io.openLocalTarget === undefined)
            throw new Error(
                "the local stack cannot be opened: previewReportCommand was given no openLocalTarget (scripts/preview-report.ts passes local/releaseTarget.ts's)",
            );
        const opened = await io.openLocalTarget(io.repoRoot, progress);
        try {
            return await engineStep(stackName, () => previewStack(opened.target.stack, migrations));
        } finally {
            await opened.close();
        }
    }
    if (!fs.existsSync(path.join(io.repoRoot, "Pulumi.yaml")))
        throw new UsageError(`${io.repoRoot} has no Pulumi.yaml; run preview:report from the repository`);
    progress(`preview:report: previewing ${stackName} (pulumi preview through the Automation API)`);
    return engineStep(stackName, async () =>
        previewStack(await auto.LocalWorkspace.selectStack({ stackName, workDir: io.repoRoot }, { envVars: withEngineTemp() }), migrations),
    );
}

/** Runs an engine step; an engine failure becomes one line naming the stack and the engine's own error line. */
async function engineStep<T>(stackName: string, step: () => Promise<T>): Promise<T> {
    try {
        return await step();
    } catch (error) {
        if (error instanceof UsageError || error instanceof OperationError) throw error;
        throw new OperationError(`pulumi preview of ${stackName} failed: ${engineErrorLine(error)}`, { cause: error });
    }
}

/** The engine's own `error: ...` line when there is one, else the first line of the message. */
export function engineErrorLine(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    if (/spawn pulumi ENOENT/.test(text)) {
        return "the pulumi CLI is not on PATH; install it as for pulumi up (README, Prerequisites), or report from a saved preview with --preview-output FILE";
    }
    const lines = text
        .split("\n")
        .map(line => line.trim())
        .filter(Boolean);
    const engineError = lines.filter(line => line.startsWith("error: ")).pop();
    return engineError ? engineError.slice("error: ".length) : (lines[0] ?? "unknown error");
}
