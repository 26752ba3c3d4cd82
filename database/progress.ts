/** Where long-running work reports what it is doing (stderr in the CLI). */
export interface Progress {
    /** One human-readable line, e.g. "backup: pg_dump physioflow_dev ... 12.3 MB in 1.2 s". */
    line(text: string): void;
}

/** Writes progress lines to stderr. */
export const stderrProgress: Progress = {
    line: text => process.stderr.write(`${text}\n`),
};

/** Drops progress lines (library use, `--quiet`). */
export const silentProgress: Progress = { line: () => undefined };

/** "12.3 MB" style sizes for progress lines. */
export function formatBytes(bytes: number): string {
    if (bytes < 1024) {
        return `${bytes} B`;
    }
    const units = ["kB", "MB", "GB", "TB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
}

/** "1.2 s" / "35 ms" style durations for progress lines. */
export function formatDuration(ms: number): string {
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
