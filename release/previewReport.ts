/**
 * The pull-request preview report: per stack, the infrastructure diff a `pulumi preview --diff`
 * shows, the migrations the next `pulumi up` would run and their blue-green lint, as one Markdown
 * comment. The workflow (.github/workflows/preview.yml) and `npm run preview:report` build it with
 * the same functions; the Markdown is built by the pure functions here.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import type { MigrationFile } from "../database/migrations/files";
import { VERSION_PATTERN } from "../database/migrations/files";
import { loadMigrationSet } from "../database/migrations/load";
import { lintMigrationFiles } from "../database/lint/lintMigrations";
import { FileLintReport, formatLintReport } from "../database/lint/rules";
import { formatSteps, ResourceStep, resourceSteps, summarizeSteps } from "./engineEvents";
import { stackConfigFrom } from "./stackConfig";
import { lastOutputs } from "./stackEngine";

/** First line of the comment: how the workflow finds its one comment to edit instead of posting another. */
export const REPORT_MARKER = "<!-- physioflow-preview-report -->";

/** The most characters of one stack's diff shown; three stacks and their lint stay under GitHub's 65,536 per comment. */
export const MAX_DIFF_CHARS = 15_000;

/** The migrations the next `pulumi up` of a stack would run, and their lint. */
export interface MigrationPlan {
    /** The version the stack's last `migrationVersion` output records; undefined when unknown (every file up to the target is listed). */
    appliedVersion?: string;
    /** The stack's `migrationTarget`; undefined: the newest file. */
    migrationTarget?: string;
    /** `holdMigrations` is set (by a rollback): the update keeps the applied version, whatever the files and the target. */
    held?: boolean;
    /** The newest file's version; undefined when there is none. */
    newestVersion?: string;
    /** Pending up-migrations, oldest first (paths as shown). */
    pending: string[];
    /** squawk's blue-green verdict on each pending file. */
    lint: FileLintReport[];
    /** Files in the migrations folder the runner would refuse (bad names, bad directives). */
    problems: string[];
}

/** One stack's part of the report. */
export interface StackPreview {
    stack: string;
    /** e.g. `2 to update, 17 unchanged`; undefined when the preview gave no summary. */
    summary?: string;
    /** The infrastructure diff, one entry per line; empty when the preview produced no output. */
    diff: string[];
    migrations: MigrationPlan;
}

/** Up-migrations above `appliedVersion` (all of them when it is unknown) and at most `migrationTarget` (no bound when unset). */
export function pendingMigrations(migrations: readonly MigrationFile[], appliedVersion?: string, migrationTarget?: string): MigrationFile[] {
    return migrations.filter(
        m => (appliedVersion === undefined || m.version > appliedVersion) && (migrationTarget === undefined || m.version <= migrationTarget),
    );
}

// ESC [ ... final byte: colors and cursor moves (pulumi/actions leaves them in with color: auto).
// eslint-disable-next-line no-control-regex
const ansiEscape = /\u001b\[[0-9;?]*[A-Za-z]/g;

/**
 * The diff and summary of a `pulumi preview --diff` text output (the pulumi/actions step's
 * `output`), made for reading in a pull request: colors, Pulumi Cloud links and the `[urn=…]` and
 * `[provider=…]` lines removed; the program's read of its own stack's last outputs (a
 * StackReference, shown as a block of `+` lines) left out, as the engine-event summary does; each
 * line's change mark (`+`, `-`, `~`, `+-`) moved to the first column so a ```diff block colors it;
 * the `Resources:` counts as the summary.
 */
export function parsePreviewOutput(text: string): { diff: string[]; summary?: string } {
    const indent = (line: string) => line.length - line.trimStart().length;
    const kept: string[] = [];
    let skipDeeperThan = -1;
    for (const raw of text.replace(ansiEscape, "").replace(/\r\n?/g, "\n").split("\n")) {
        const line = raw.trimEnd();
        if (skipDeeperThan >= 0 && (line === "" || indent(line) > skipDeeperThan)) continue;
        skipDeeperThan = -1;
        if (/^\s*> pulumi:pulumi:StackReference: \(read\)/.test(line)) {
            skipDeeperThan = indent(line);
            continue;
        }
        if (/^\s*View (Live|in Browser)\b/.test(line) || /^\s*\[(urn|provider)=/.test(line)) continue;
        kept.push(line.replace(/^(\s+)(\+-|\+\+|--(?!outputs:)|[-+~] )/, "$2$1"));
    }
    while (kept.length && kept[0] === "") kept.shift();
    while (kept.length && kept[kept.length - 1] === "") kept.pop();
    const at = kept.findIndex(line => line.trim() === "Resources:");
    const counts: string[] = [];
    for (const line of at < 0 ? [] : kept.slice(at + 1)) {
        if (line.trim() === "") break;
        // `4 changes. 20 unchanged`: the total is the sum of the lines above it.
        counts.push(
            line
                .trim()
                .replace(/^[-+~]+/, "")
                .trim()
                .replace(/^\d+ changes?\. /, ""),
        );
    }
    return counts.length ? { diff: kept, summary: counts.join(", ") } : { diff: kept };
}

/** `lines` cut to about `maxChars` (whole lines), saying how many lines were left out; the last `tail` lines (the summary) are kept. */
export function truncateLines(lines: readonly string[], maxChars: number, tail = 0): string[] {
    const size = (some: readonly string[]) => some.reduce((n, line) => n + line.length + 1, 0);
    if (size(lines) <= maxChars) return [...lines];
    const kept = lines.slice(lines.length - tail);
    const head: string[] = [];
    let budget = maxChars - size(kept);
    for (const line of lines.slice(0, lines.length - tail)) {
        budget -= line.length + 1;
        if (budget < 0) break;
        head.push(line);
    }
    const omitted = lines.length - head.length - kept.length;
    return [...head, `... ${omitted} more lines (the whole preview is in the workflow's log)`, ...kept];
}

/** A fenced code block whose fence is longer than any backtick run in the lines, so no line can close it. */
export function codeBlock(language: string, lines: readonly string[]): string[] {
    const longest = Math.max(0, ...lines.map(line => Math.max(0, ...(line.match(/`+/g) ?? []).map(run => run.length))));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return [`${fence}${language}`, ...lines, fence];
}

/** `005, 006`, `none`. */
function versionList(plan: MigrationPlan): string {
    if (plan.held) return "none (held)";
    return plan.pending.length ? plan.pending.map(p => path.basename(p).slice(0, 3)).join(", ") : "none";
}

function lintVerdict(plan: MigrationPlan): string {
    if (plan.lint.length === 0) return "nothing to lint";
    const failed = plan.lint.filter(r => !r.ok).length;
    const allowed = plan.lint.filter(r => r.allowedBecause !== undefined).length;
    const warned = plan.lint.filter(r => r.ok && r.violations.length > 0).length;
    if (failed) return `**${failed} FAIL**`;
    return allowed ? `ok (${allowed} allowed breaking)` : warned ? `ok (${warned} with warnings)` : "ok";
}

/** One stack's section: the infrastructure diff, the pending migrations and their lint. */
export function formatStackSection(preview: StackPreview, maxDiffChars = MAX_DIFF_CHARS): string[] {
    const plan = preview.migrations;
    const applied = plan.appliedVersion === undefined ? "unknown: all files listed" : `${plan.appliedVersion} (the stack's last \`migrationVersion\` output)`;
    const target = plan.held
        ? `held at the applied version (\`holdMigrations\`, set by a rollback; the next deploy's release step moves it on)`
        : plan.migrationTarget !== undefined
          ? `${plan.migrationTarget} (\`migrationTarget\`)`
          : plan.newestVersion !== undefined
            ? `${plan.newestVersion} (the newest file)`
            : "the newest file (there is none)";
    const tail = preview.diff.length - preview.diff.findIndex(line => line.trim() === "Resources:");
    const lines = [
        `### \`${preview.stack}\``,
        "",
        "Infrastructure:",
        "",
        ...(preview.diff.length
            ? codeBlock("diff", truncateLines(preview.diff, maxDiffChars, tail > preview.diff.length ? 0 : tail))
            : ["no preview output (the preview failed: see the workflow's log)"]),
        "",
        `Pending migrations: applied ${applied}; target ${target}.`,
        "",
        ...(plan.pending.length ? plan.pending.map(p => `- \`${p}\``) : ["none"]),
    ];
    if (plan.problems.length) {
        lines.push("", "Problems in the migrations folder (the migration would refuse to run):", "", ...plan.problems.map(p => `- ${p}`));
    }
    if (plan.lint.length) {
        lines.push("", "Blue-green lint of the pending migrations (squawk):", "", ...codeBlock("", formatLintReport(plan.lint)));
    }
    return lines;
}

/** The whole comment: the marker, a table with one row per stack, then each stack's section. */
export function formatPreviewReport(previews: readonly StackPreview[], maxDiffChars = MAX_DIFF_CHARS): string {
    const lines = [
        REPORT_MARKER,
        "## Pulumi preview",
        "",
        "| stack | infrastructure | pending migrations | migration lint |",
        "| --- | --- | --- | --- |",
        ...previews.map(
            p =>
                `| \`${p.stack}\` | ${p.diff.length ? (p.summary ?? "see below") : "**no preview**"} | ${versionList(p.migrations)} | ${lintVerdict(p.migrations)} |`,
        ),
    ];
    for (const preview of previews) lines.push("", ...formatStackSection(preview, maxDiffChars));
    return `${lines.join("\n")}\n`;
}

/** Where the migrations are and how their paths are shown. */
export interface MigrationsLocation {
    /** The migrations folder (`migrations/` of the repository). */
    dir: string;
    /** Paths are shown relative to this folder (the repository). */
    displayRoot: string;
}

/** Reads the migrations folder, picks the pending files and lints them with squawk. */
export async function readMigrationPlan(location: MigrationsLocation, appliedVersion?: string, migrationTarget?: string, held = false): Promise<MigrationPlan> {
    const set = await loadMigrationSet(path.resolve(location.dir));
    const shown = (file: string) => path.relative(location.displayRoot, file);
    // Held (components/releaseGuard.ts heldMigrationVersion): nothing runs; with no applied version known the update refuses.
    const pending = held ? [] : pendingMigrations(set.migrations, appliedVersion, migrationTarget);
    const lint = (await lintMigrationFiles(pending)).map(report => ({ ...report, path: shown(report.path) }));
    const problems = [
        ...(held && appliedVersion === undefined
            ? [
                  "`holdMigrations` is true but the stack's last update recorded no `migrationVersion` to hold: the update refuses (pulumi config set holdMigrations false)",
              ]
            : []),
        ...set.malformedMigrations.map(file => `\`${shown(file)}\`: not named NNN_description.sql`),
        ...set.directiveProblems.map(p => `\`${shown(p.path)}\`: ${p.problems.join("; ")}`),
    ];
    const newestVersion = set.migrations.length ? set.migrations[set.migrations.length - 1].version : undefined;
    return { appliedVersion, migrationTarget, ...(held ? { held } : {}), newestVersion, pending: pending.map(m => shown(m.path)), lint, problems };
}

/** A stack's `migrationVersion` output or `migrationTarget` setting when it is a version (`NNN`); anything else counts as unknown. */
export function versionOrUndefined(value: unknown): string | undefined {
    return typeof value === "string" && VERSION_PATTERN.test(value) ? value : undefined;
}

/**
 * A replacement is three engine steps of one resource (`create-replacement`, `replace`,
 * `delete-replaced`), each with part of the reasons: one `replace` step with all of them instead.
 */
export function oneStepPerReplace(steps: readonly ResourceStep[]): ResourceStep[] {
    const halves = ["create-replacement", "delete-replaced"];
    const union = (lists: string[][]) => [...new Set(lists.flat())].sort();
    return steps
        .filter(step => !halves.includes(step.op))
        .map(step => {
            if (step.op !== "replace") return step;
            const parts = steps.filter(other => other.urn === step.urn);
            return { ...step, diffs: union(parts.map(p => p.diffs)), replaceBecause: union(parts.map(p => p.replaceBecause)) };
        });
}

/**
 * A stack's section from the engine: `stack.preview({ onEvent })` (changes nothing), its last
 * `migrationVersion` output and its `migrationTarget` setting.
 */
export async function previewStack(stack: auto.Stack, migrations: MigrationsLocation): Promise<StackPreview> {
    const events: auto.EngineEvent[] = [];
    await stack.preview({ onEvent: event => events.push(event) });
    const steps = oneStepPerReplace(resourceSteps(events));
    const outputs = await lastOutputs(stack);
    // The program's own reading of the settings (the preview above already refused a bad one).
    const settings = stackConfigFrom(await stack.getAllConfig());
    const plan = await readMigrationPlan(migrations, versionOrUndefined(outputs.migrationVersion), settings.migrationTarget, settings.holdMigrations);
    return { stack: stack.name, summary: summarizeSteps(steps, "will"), diff: formatSteps(steps), migrations: plan };
}

/** A stack's section from the text of a `pulumi preview --diff` run, e.g. the pulumi/actions step's `output`. */
export async function previewFromOutput(
    stackName: string,
    output: string,
    migrations: MigrationsLocation,
    appliedVersion?: string,
    migrationTarget?: string,
    held = false,
): Promise<StackPreview> {
    return { stack: stackName, ...parsePreviewOutput(output), migrations: await readMigrationPlan(migrations, appliedVersion, migrationTarget, held) };
}

/** A stack file's `physioflow:<key>` setting (`Pulumi.<stack>.yaml`), read without the engine; undefined when unset. */
export function stackFileSetting(repoRoot: string, stackName: string, key: string): string | undefined {
    const file = path.join(repoRoot, `Pulumi.${stackName}.yaml`);
    if (!fs.existsSync(file)) return undefined;
    const config = (yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined)?.config ?? {};
    const value = config[`physioflow:${key}`];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
    // A structured setting (a YAML map or list) reads as `pulumi config get` prints it: JSON.
    return JSON.stringify(value);
}
