import { UsageError } from "../errors";

/** Environment names as used in archive names and S3 buckets: dev, staging, prod, ... */
export const ENVIRONMENT_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
/** Labels such as "pre-deploy-v1.2.3" or "manual". */
export const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
/** `<env>_<label>_<YYYYMMDD>_<HHMMSS>.tar.gz`, e.g. dev_pre-deploy-v1.2.3_20260211_103045.tar.gz. */
export const ARCHIVE_NAME_PATTERN = /^([a-z0-9][a-z0-9-]*)_([A-Za-z0-9][A-Za-z0-9.-]*)_(\d{8})_(\d{6})\.tar\.gz$/;

/** What an archive name says. */
export interface ArchiveNameParts {
    /** dev, staging, prod, ... */
    environment: string;
    /** e.g. "pre-deploy-v1.2.3". */
    label: string;
    /** Creation time (UTC, second precision). */
    createdAt: Date;
}

/** Throws a usage error unless `environment` can go into an archive name. */
export function checkEnvironmentName(environment: string): string {
    if (!ENVIRONMENT_PATTERN.test(environment)) {
        throw new UsageError(`--env must be lower-case letters, digits and dashes (e.g. dev, staging, prod), got "${environment}"`);
    }
    return environment;
}

/** Throws a usage error unless `label` can go into an archive name. */
export function checkLabel(label: string): string {
    if (!LABEL_PATTERN.test(label)) {
        throw new UsageError(`--label must be letters, digits, dots and dashes (e.g. pre-deploy-v1.2.3), got "${label}"`);
    }
    return label;
}

/** The runbook's archive name, timestamped in UTC: dev_pre-deploy-v1.2.3_20260211_103045.tar.gz. */
export function backupArchiveName(parts: ArchiveNameParts): string {
    checkEnvironmentName(parts.environment);
    checkLabel(parts.label);
    const iso = parts.createdAt.toISOString(); // 2026-02-11T10:30:45.123Z
    const date = iso.slice(0, 10).replace(/-/g, "");
    const time = iso.slice(11, 19).replace(/:/g, "");
    return `${parts.environment}_${parts.label}_${date}_${time}.tar.gz`;
}

/** Parts of an archive name, or undefined for any other file name. */
export function parseBackupArchiveName(fileName: string): ArchiveNameParts | undefined {
    const match = ARCHIVE_NAME_PATTERN.exec(fileName);
    if (!match) {
        return undefined;
    }
    const [, environment, label, date, time] = match;
    const createdAt = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4, 6)}Z`);
    if (Number.isNaN(createdAt.getTime())) {
        return undefined;
    }
    return { environment, label, createdAt };
}
