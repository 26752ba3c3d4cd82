/** One finding as squawk reports it (`--reporter json`), lines 1-based here. */
export interface SquawkFinding {
    /** Path as given to squawk. */
    file: string;
    /** 1-based line. */
    line: number;
    /** squawk rule name, e.g. "ban-drop-column". */
    rule: string;
    /** squawk's message. */
    message: string;
}

/** A finding judged for blue-green releases. */
export interface LintViolation {
    /** 1-based line in the file. */
    line: number;
    /** squawk rule name. */
    rule: string;
    /** "breaking" fails the lint; "warning" is reported only. */
    severity: "breaking" | "warning";
    /** Why it matters while the old color still serves. */
    message: string;
}

/** The verdict for one up-migration file. */
export interface FileLintReport {
    /** The file. */
    path: string;
    /** False when a breaking violation is not opted out. */
    ok: boolean;
    /** Breaking findings first, then warnings, each by line. */
    violations: LintViolation[];
    /** The `-- physioflow:allow-breaking` reason that let breaking findings through, if used. */
    allowedBecause?: string;
}

/**
 * Statements that break the color still serving traffic while the migration
 * runs, or that lose data: these fail the lint unless the file opts out.
 */
export const BREAKING_RULES: Readonly<Record<string, string>> = {
    "ban-drop-column": "drops a column the running (old) color still reads or writes",
    "ban-drop-table": "drops a table the running (old) color still uses",
    "renaming-column": "renames a column the running (old) color still uses by its old name",
    "renaming-table": "renames a table the running (old) color still uses by its old name",
    "adding-required-field": "adds a NOT NULL column without a default; inserts from the running (old) color will fail",
    "changing-column-type": "changes a column type; the running (old) color may read or write the old type, and the table is rewritten under an exclusive lock",
    "adding-not-nullable-field": "sets NOT NULL on a column; inserts from the running (old) color that leave it empty will fail",
    "ban-drop-not-null": "drops NOT NULL; the running (old) color assumes the column is always set",
    "ban-drop-database": "drops a database",
    "ban-truncate-cascade": "TRUNCATE ... CASCADE empties every table that references this one",
    "ban-concurrent-index-creation-in-transaction": "CREATE INDEX CONCURRENTLY cannot run in a transaction; mark the file -- physioflow:no-transaction",
    "syntax-error": "squawk could not parse this statement",
};

/** Lock-heavy statements worth knowing about during a zero-downtime release; reported, never failing. */
export const WARNING_RULES: Readonly<Record<string, string>> = {
    "require-concurrent-index-creation": "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
    "require-concurrent-index-deletion": "DROP INDEX without CONCURRENTLY takes an exclusive lock",
    "constraint-missing-not-valid": "adding a constraint without NOT VALID scans the table while blocking writes",
    "adding-foreign-key-constraint": "adding a foreign key blocks writes on both tables while it is checked",
    "disallowed-unique-constraint": "adding a UNIQUE constraint builds an index under an exclusive lock",
    "adding-field-with-default": "adding a column with a volatile default rewrites the table",
    "adding-serial-primary-key-field": "adding a serial primary key rewrites the table under an exclusive lock",
};

/**
 * squawk rules the runner satisfies for every file, so they are deliberately
 * off. squawk wants each file to `SET lock_timeout` (and `statement_timeout`)
 * before a statement that takes a heavy lock. The runner does that itself
 * before every file (5 s by default, `--lock-timeout`, or the file's
 * `-- physioflow:lock-timeout` header) and validation refuses a file that sets
 * them with SET, so the header stays the one place a file's timeouts are read.
 * Enforcing the rule would make every file repeat a SET that would then
 * override the runner's setting.
 */
export const RUNNER_HANDLED_RULES: Readonly<Record<string, string>> = {
    "require-lock-timeout": "the runner sets lock_timeout before every file (-- physioflow:lock-timeout to change it)",
    "require-statement-timeout": "the runner sets statement_timeout before every file (-- physioflow:statement-timeout to change it)",
};

/**
 * Judges one file's squawk findings: breaking rules fail unless the file's
 * header carries `-- physioflow:allow-breaking <reason>`; warning rules are
 * reported; the timeout rules are handled by the runner
 * ({@link RUNNER_HANDLED_RULES}); every other squawk rule (style) is ignored.
 */
export function evaluateLint(path: string, findings: readonly SquawkFinding[], allowBreaking?: string): FileLintReport {
    const violations: LintViolation[] = [];
    const seen = new Set<string>();
    for (const finding of findings) {
        const severity = finding.rule in BREAKING_RULES ? "breaking" : finding.rule in WARNING_RULES ? "warning" : undefined;
        const key = `${finding.line}:${finding.rule}`;
        if (!severity || seen.has(key)) {
            continue;
        }
        seen.add(key);
        const why = severity === "breaking" ? BREAKING_RULES[finding.rule] : WARNING_RULES[finding.rule];
        violations.push({
            line: finding.line,
            rule: finding.rule,
            severity,
            message: finding.rule === "syntax-error" ? `${why}: ${finding.message}` : why,
        });
    }
    violations.sort((a, b) => (a.severity === b.severity ? a.line - b.line : a.severity === "breaking" ? -1 : 1));
    const breaking = violations.some(v => v.severity === "breaking");
    return {
        path,
        ok: !breaking || allowBreaking !== undefined,
        violations,
        allowedBecause: breaking && allowBreaking !== undefined ? allowBreaking : undefined,
    };
}

/** Human-readable report lines, one block per file. */
export function formatLintReport(reports: readonly FileLintReport[]): string[] {
    const lines: string[] = [];
    for (const report of reports) {
        const breaking = report.violations.filter(v => v.severity === "breaking").length;
        const status = !report.ok ? "FAIL" : report.allowedBecause ? "ALLOWED" : "ok";
        const suffix = report.allowedBecause ? ` (allow-breaking: ${report.allowedBecause})` : breaking > 0 ? ` (${breaking} breaking)` : "";
        lines.push(`${status.padEnd(7)} ${report.path}${suffix}`);
        for (const v of report.violations) {
            lines.push(`        ${report.path}:${v.line}: ${v.severity === "breaking" ? "breaking" : "warning"} [${v.rule}] ${v.message}`);
        }
    }
    return lines;
}

/** One line naming each failing file and its first breaking rule, for errors. */
export function summarizeLintFailures(reports: readonly FileLintReport[]): string {
    return reports
        .filter(r => !r.ok)
        .map(r => {
            const first = r.violations.find(v => v.severity === "breaking")!;
            const more = r.violations.filter(v => v.severity === "breaking").length - 1;
            return `${r.path}:${first.line} [${first.rule}] ${first.message}${more > 0 ? ` (+${more} more)` : ""}`;
        })
        .join("; ");
}
