import { UsageError } from "../errors";
import { VERSION_PATTERN } from "../migrations/files";
import { ENVIRONMENT_PATTERN, LABEL_PATTERN } from "./archiveName";

/** Identifies the archive layout; bumped if the layout ever changes. */
export const BACKUP_FORMAT = "physioflow-backup/1";
/** Name of the pg_dump custom-format file inside the archive. */
export const DUMP_FILE = "database.dump";
/** Name of the metadata file inside the archive. */
export const METADATA_FILE = "metadata.json";

/** `metadata.json` inside every backup archive (runbook appendix B: migration version tracking). */
export interface BackupMetadata {
    /** Always {@link BACKUP_FORMAT}. */
    format: string;
    /** dev, staging, prod, ... */
    environment: string;
    /** Name of the database that was dumped. */
    database: string;
    /** e.g. "pre-deploy-v1.2.3". */
    label: string;
    /** ISO-8601 UTC timestamp. */
    created_at: string;
    /** Applied migration head at dump time, three digits ("000" for none). */
    migration_version: string;
    /** Image tags of the live color at the time, e.g. { api: "v1.2.3", web: "v1.2.3" }; {} when none were given. */
    image_tags: Record<string, string>;
    /** The tag each color ran (or was being released with) when the backup was taken, e.g. { blue: "v1.2.2", green: "v1.3.0" }. Absent in archives of before 2026-12 and in manual backups without `--colors`. */
    colors?: BackupColors;
    /** The color that was serving when the backup was taken; present with `colors`. */
    live?: "blue" | "green";
    /** `server_version` of the dumped server. */
    server_version: string;
    /** `pg_dump --version` output. */
    pg_dump_version: string;
    /** Always {@link DUMP_FILE}. */
    dump_file: string;
    /** Size of the dump in bytes. */
    dump_size_bytes: number;
    /** sha256 (hex) of the dump. */
    dump_sha256: string;
}

/** Both colors' tags, as recorded in an archive. */
export interface BackupColors {
    blue: string;
    green: string;
}

/** What a backup records about the colors: both tags and the live color (`--colors blue=T,green=T --live COLOR`). */
export interface BackupColorState {
    colors: BackupColors;
    live: "blue" | "green";
}

/** Parses `--colors blue=v1.2.2,green=v1.3.0`: both colors, each once, nothing else. */
export function parseColorTags(text: string): BackupColors {
    const tags = parseImageTags(text, "--colors", "blue=v1.2.2,green=v1.3.0");
    const names = Object.keys(tags).sort();
    if (names.join(",") !== "blue,green") {
        throw new UsageError(`--colors must name blue and green, e.g. blue=v1.2.2,green=v1.3.0, got "${text}"`);
    }
    return { blue: tags.blue, green: tags.green };
}

/**
 * Parses `--tags api=v1.2.3,web=v1.2.3`. Names are letters, digits, dots,
 * dashes and underscores; tags are non-empty and contain no comma or space.
 */
export function parseImageTags(text: string, flag = "--tags", example = "api=v1.2.3,web=v1.2.3"): Record<string, string> {
    const tags: Record<string, string> = {};
    for (const pair of text
        .split(",")
        .map(p => p.trim())
        .filter(p => p !== "")) {
        const match = /^([A-Za-z0-9._-]+)=([^\s,=]+)$/.exec(pair);
        if (!match) {
            throw new UsageError(`${flag} must look like ${example}, got "${pair}"`);
        }
        if (match[1] in tags) {
            throw new UsageError(`${flag} names "${match[1]}" twice`);
        }
        tags[match[1]] = match[2];
    }
    return tags;
}

/** Checks untrusted JSON from an archive; throws naming the first bad field. */
export function parseBackupMetadata(value: unknown): BackupMetadata {
    const bad = (field: string, expected: string) => new Error(`metadata.json: "${field}" must be ${expected}`);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new Error("metadata.json must hold a JSON object");
    }
    const m = value as Record<string, unknown>;
    const text = (field: string, pattern?: RegExp, expected = "a non-empty string"): string => {
        const v = m[field];
        if (typeof v !== "string" || v === "" || (pattern && !pattern.test(v))) {
            throw bad(field, expected);
        }
        return v;
    };
    if (m.format !== BACKUP_FORMAT) {
        throw bad("format", `"${BACKUP_FORMAT}"`);
    }
    const createdAt = text("created_at");
    if (Number.isNaN(Date.parse(createdAt))) {
        throw bad("created_at", "an ISO-8601 timestamp");
    }
    const tags = m.image_tags ?? {};
    if (typeof tags !== "object" || tags === null || Array.isArray(tags) || Object.values(tags).some(t => typeof t !== "string")) {
        throw bad("image_tags", "an object of strings");
    }
    const colors = m.colors;
    if (
        colors !== undefined &&
        (typeof colors !== "object" ||
            colors === null ||
            Array.isArray(colors) ||
            Object.keys(colors).sort().join(",") !== "blue,green" ||
            Object.values(colors).some(t => typeof t !== "string" || t === ""))
    ) {
        throw bad("colors", 'an object { "blue": tag, "green": tag }');
    }
    if (m.live !== undefined && m.live !== "blue" && m.live !== "green") {
        throw bad("live", '"blue" or "green"');
    }
    if ((colors === undefined) !== (m.live === undefined)) {
        throw bad(colors === undefined ? "colors" : "live", "present with the other (colors and live are recorded together)");
    }
    const size = m.dump_size_bytes;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
        throw bad("dump_size_bytes", "a non-negative integer");
    }
    return {
        format: BACKUP_FORMAT,
        environment: text("environment", ENVIRONMENT_PATTERN, "an environment name such as dev"),
        database: text("database"),
        label: text("label", LABEL_PATTERN, "a label such as pre-deploy-v1.2.3"),
        created_at: createdAt,
        migration_version: text("migration_version", VERSION_PATTERN, 'three digits such as "015"'),
        image_tags: tags as Record<string, string>,
        ...(colors === undefined ? {} : { colors: colors as BackupColors, live: m.live }),
        server_version: text("server_version"),
        pg_dump_version: text("pg_dump_version"),
        dump_file: text("dump_file", new RegExp(`^${DUMP_FILE.replace(".", "\\.")}$`), `"${DUMP_FILE}"`),
        dump_size_bytes: size,
        dump_sha256: text("dump_sha256", /^[0-9a-f]{64}$/, "64 lower-case hex characters"),
    };
}
