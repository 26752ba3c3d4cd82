import { createHash } from "crypto";
import { parseDurationMs } from "./timeouts";

/** `NNN_description.sql`: three digits, an underscore, a description. */
export const MIGRATION_FILE_PATTERN = /^(\d{3})_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;
/** `rollback/NNN_down.sql`. */
export const ROLLBACK_FILE_PATTERN = /^(\d{3})_down\.sql$/;
/** A migration version as written on the command line and in `schema_migrations`. */
export const VERSION_PATTERN = /^\d{3}$/;
/** The version of a database with no migration applied. */
export const NO_VERSION = "000";

/** Runs the file outside a transaction (for `CREATE INDEX CONCURRENTLY`). */
export const NO_TRANSACTION_DIRECTIVE = "no-transaction";
/** Lets the file pass the blue-green lint; must be followed by a reason. */
export const ALLOW_BREAKING_DIRECTIVE = "allow-breaking";
/** How long this file's statements may wait for a lock (PostgreSQL lock_timeout), e.g. 30s. */
export const LOCK_TIMEOUT_DIRECTIVE = "lock-timeout";
/** How long one of this file's statements may run (PostgreSQL statement_timeout), e.g. 10m; 0 for no limit. */
export const STATEMENT_TIMEOUT_DIRECTIVE = "statement-timeout";
const KNOWN_DIRECTIVES = [NO_TRANSACTION_DIRECTIVE, ALLOW_BREAKING_DIRECTIVE, LOCK_TIMEOUT_DIRECTIVE, STATEMENT_TIMEOUT_DIRECTIVE];

/** What a migration's header comments ask of the runner and the lint. */
export interface MigrationDirectives {
    /** False when the header says `-- physioflow:no-transaction`. */
    transactional: boolean;
    /** The reason given with `-- physioflow:allow-breaking <reason>`, if any. */
    allowBreaking?: string;
    /** From `-- physioflow:lock-timeout 30s`: overrides the run's lock_timeout for this file. */
    lockTimeoutMs?: number;
    /** From `-- physioflow:statement-timeout 10m`: this file's statement_timeout (0 = no limit). */
    statementTimeoutMs?: number;
}

/** An up-migration file: `migrations/NNN_description.sql`. */
export interface MigrationFile {
    /** Three digits, e.g. "004". */
    version: string;
    /** The description part of the file name, e.g. "add_bhyt_cards". */
    name: string;
    /** Path for messages, e.g. "migrations/004_add_bhyt_cards.sql". */
    path: string;
    /** File contents. */
    sql: string;
    /** sha256 (hex) of the contents with line endings normalized to LF. */
    checksum: string;
    /** Header directives. */
    directives: MigrationDirectives;
}

/** A down script: `migrations/rollback/NNN_down.sql`. */
export interface RollbackFile {
    /** Version it undoes. */
    version: string;
    /** Path for messages. */
    path: string;
    /** File contents. */
    sql: string;
    /** Header directives (only no-transaction applies to down scripts). */
    directives: MigrationDirectives;
}

/** Version and description from a migration file name, or undefined when it does not follow `NNN_description.sql`. */
export function parseMigrationFileName(fileName: string): { version: string; name: string } | undefined {
    const match = MIGRATION_FILE_PATTERN.exec(fileName);
    return match ? { version: match[1], name: match[2] } : undefined;
}

/** Version from a rollback file name, or undefined when it does not follow `NNN_down.sql`. */
export function parseRollbackFileName(fileName: string): string | undefined {
    return ROLLBACK_FILE_PATTERN.exec(fileName)?.[1];
}

/** The highest of these three-digit versions, or `floor` (default "000") when none is higher. */
export function highestVersion(versions: Iterable<string>, floor: string = NO_VERSION): string {
    let highest = floor;
    for (const version of versions) {
        // Stryker disable next-line EqualityOperator: ">=" keeps an equal version, which is the same string
        if (version > highest) highest = version;
    }
    return highest;
}

/** sha256 of a migration's text; CRLF and LF checkouts of the same file agree. */
export function migrationChecksum(sql: string): string {
    return createHash("sha256").update(sql.replace(/\r\n/g, "\n"), "utf8").digest("hex");
}

/**
 * Reads `-- physioflow:<directive>` lines from the file's header (the comment
 * and blank lines before the first statement). Unknown directives, directives
 * below the header and an allow-breaking without a reason are problems, so a
 * typo can never silently change how a migration runs.
 */
export function parseDirectives(sql: string): { directives: MigrationDirectives; problems: string[] } {
    const directives: MigrationDirectives = { transactional: true };
    const problems: string[] = [];
    let inHeader = true;
    sql.split(/\r?\n/).forEach((rawLine, index) => {
        const line = rawLine.trim();
        if (inHeader && line !== "" && !line.startsWith("--")) {
            inHeader = false;
        }
        const where = `line ${index + 1}`;
        if (!inHeader) {
            const misplaced = /--\s*physioflow:([A-Za-z-]+)/.exec(line);
            if (misplaced) {
                problems.push(`${where}: directive "physioflow:${misplaced[1]}" must be in the comment header before the first statement`);
            }
            return;
        }
        // The line is trimmed and `\s*` takes the spaces after the name: the argument is the rest of the line as written.
        const match = /^--\s*physioflow:([A-Za-z-]+)\s*(.*)/.exec(line);
        if (!match) {
            return;
        }
        const [, name, argument] = match;
        if (name === NO_TRANSACTION_DIRECTIVE) {
            directives.transactional = false;
        } else if (name === ALLOW_BREAKING_DIRECTIVE) {
            const reason = argument;
            if (reason === "") {
                problems.push(`${where}: "-- physioflow:allow-breaking" needs a reason, e.g. "-- physioflow:allow-breaking column unused since v1.4"`);
            } else {
                directives.allowBreaking = reason;
            }
        } else if (name === LOCK_TIMEOUT_DIRECTIVE || name === STATEMENT_TIMEOUT_DIRECTIVE) {
            const ms = parseDurationMs(argument);
            if (ms === undefined || (name === LOCK_TIMEOUT_DIRECTIVE && ms === 0)) {
                const expected = name === LOCK_TIMEOUT_DIRECTIVE ? "a duration above zero" : "a duration (0 for no limit)";
                problems.push(`${where}: "-- physioflow:${name}" needs ${expected} such as 30s, 2m or 500ms, got "${argument}"`);
            } else if (name === LOCK_TIMEOUT_DIRECTIVE) {
                directives.lockTimeoutMs = ms;
            } else {
                directives.statementTimeoutMs = ms;
            }
        } else {
            problems.push(`${where}: unknown directive "physioflow:${name}" (known: ${KNOWN_DIRECTIVES.join(", ")})`);
        }
    });
    return { directives, problems };
}
