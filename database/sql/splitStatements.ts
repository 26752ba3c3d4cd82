/** One top-level SQL statement of a migration file. */
export interface SqlStatement {
    /** The statement without its terminating semicolon, from its first significant character. */
    text: string;
    /** 1-based line of the file where the statement starts. */
    line: number;
}

/**
 * Splits a SQL script into top-level statements the way psql does: semicolons
 * inside quotes, quoted identifiers, dollar-quoted bodies, comments and
 * `BEGIN ATOMIC ... END` function bodies do not end a statement. Comment-only
 * chunks are dropped.
 */
export function splitStatements(sql: string): SqlStatement[] {
    const statements: SqlStatement[] = [];
    let line = 1;
    let start = -1;
    let startLine = 0;
    let atomicDepth = 0;
    let previousWord = "";
    let i = 0;

    const markStart = () => {
        if (start < 0) {
            start = i;
            startLine = line;
        }
    };
    const advance = (to: number) => {
        for (; i < to && i < sql.length; i++) {
            if (sql[i] === "\n") {
                line++;
            }
        }
    };

    while (i < sql.length) {
        const ch = sql[i];
        const next = sql[i + 1];
        if (ch === "-" && next === "-") {
            const end = sql.indexOf("\n", i);
            advance(end < 0 ? sql.length : end);
            continue;
        }
        if (ch === "/" && next === "*") {
            advance(blockCommentEnd(sql, i));
            continue;
        }
        if (ch === ";" && atomicDepth === 0) {
            if (start >= 0) {
                statements.push({ text: sql.slice(start, i).trimEnd(), line: startLine });
            }
            start = -1;
            previousWord = "";
            advance(i + 1);
            continue;
        }
        if (/\s/.test(ch) || ch === ";") {
            advance(i + 1);
            continue;
        }
        markStart();
        if (ch === "'") {
            const escapes = /[eE]/.test(sql[i - 1] ?? "") && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? "");
            advance(quotedEnd(sql, i, "'", escapes));
            continue;
        }
        if (ch === '"') {
            advance(quotedEnd(sql, i, '"', false));
            continue;
        }
        if (ch === "$") {
            const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
            if (tag && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? "")) {
                const close = sql.indexOf(tag[0], i + tag[0].length);
                advance(close < 0 ? sql.length : close + tag[0].length);
                continue;
            }
        }
        if (/[A-Za-z_]/.test(ch)) {
            const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0].toLowerCase();
            if (word === "atomic" && previousWord === "begin") {
                atomicDepth++;
            } else if (atomicDepth > 0 && word === "case") {
                atomicDepth++;
            } else if (atomicDepth > 0 && word === "end") {
                atomicDepth--;
            }
            previousWord = word;
            advance(i + word.length);
            continue;
        }
        advance(i + 1);
    }
    if (start >= 0) {
        const text = sql.slice(start).trimEnd();
        if (text.length > 0) {
            statements.push({ text, line: startLine });
        }
    }
    return statements;
}

/** 1-based line within `statement`'s file for a 1-based character `position` reported by PostgreSQL. */
export function lineOfPosition(statement: SqlStatement, position: number): number {
    const before = statement.text.slice(0, Math.max(0, position - 1));
    return statement.line + (before.match(/\n/g)?.length ?? 0);
}

function quotedEnd(sql: string, open: number, quote: string, backslashEscapes: boolean): number {
    let i = open + 1;
    while (i < sql.length) {
        if (backslashEscapes && sql[i] === "\\") {
            i += 2;
            continue;
        }
        if (sql[i] === quote) {
            if (sql[i + 1] === quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return sql.length;
}

function blockCommentEnd(sql: string, open: number): number {
    let depth = 0;
    let i = open;
    while (i < sql.length) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
            depth++;
            i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
            depth--;
            i += 2;
            if (depth === 0) {
                return i;
            }
        } else {
            i++;
        }
    }
    return sql.length;
}
