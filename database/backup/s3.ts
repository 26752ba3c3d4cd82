import { CopyObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createReadStream, promises as fs } from "fs";
import * as path from "path";
import { OperationError, UsageError } from "../errors";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { parseBackupArchiveName } from "./archiveName";
import { MonthlyArchive, backupLifecycleRule, checkPrefix, ensureBackupBucket, monthlyLifecycleRule } from "./lifecycle";
import { BackupMetadata } from "./metadata";
import { BACKUP_EXPIRY_DAYS, DEFAULT_BACKUP_PREFIX, DEFAULT_COLD_STORAGE_CLASS, MONTHLY_BACKUP_PREFIX, monthlyExpiryDays } from "./storeLayout";
import { sha256File } from "./verify";

export { BACKUP_EXPIRY_DAYS, DEFAULT_BACKUP_PREFIX };

/** An S3-compatible store (MinIO in the team's setup), path-style addressing. */
export interface S3Settings {
    /** e.g. "http://127.0.0.1:9000"; undefined means AWS itself. */
    endpoint?: string;
    /** Bucket for the archives. */
    bucket: string;
    /** Access key id. */
    accessKeyId: string;
    /** Secret key; never printed. */
    secretAccessKey: string;
    /** Region. Default "us-east-1". */
    region: string;
    /** Days after which the bucket's lifecycle rule expires archives. Default 30. */
    expiryDays?: number;
    /** Key prefix of the archives, ending in "/"; the expiry rule is scoped to it. Default {@link DEFAULT_BACKUP_PREFIX}. */
    prefix?: string;
    /** Keep the first archive of each calendar month (UTC) under `monthly/` with its own rule. Default: no monthly copies. */
    monthly?: MonthlyArchive;
}

/** Where an archive went. */
export interface UploadedBackup {
    bucket: string;
    key: string;
    /** Size confirmed by HEAD after the upload. */
    size: number;
    /** The monthly copy made of it, when it was the month's first (`monthly/<YYYY-MM>/<archive>`). */
    monthlyKey?: string;
}

/**
 * Reads S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (or
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), S3_REGION (default us-east-1),
 * S3_PREFIX (default physioflow-backups/), S3_MONTHLY_MONTHS (months a monthly copy is
 * kept; unset or 0: none) and S3_COLD_STORAGE_CLASS (default GLACIER; "none": no transition).
 */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env, purpose = "--upload"): S3Settings {
    const accessKeyId = env.S3_ACCESS_KEY_ID || env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.S3_SECRET_ACCESS_KEY || env.AWS_SECRET_ACCESS_KEY;
    const missing = [
        !env.S3_BUCKET && "S3_BUCKET",
        !accessKeyId && "S3_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID)",
        !secretAccessKey && "S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY)",
    ].filter(Boolean);
    if (missing.length > 0) {
        throw new UsageError(`${purpose} needs ${missing.join(", ")} in the environment (and S3_ENDPOINT for MinIO)`);
    }
    const monthly = monthlyFromEnv(env);
    return {
        endpoint: env.S3_ENDPOINT || undefined,
        bucket: env.S3_BUCKET!,
        accessKeyId: accessKeyId!,
        secretAccessKey: secretAccessKey!,
        region: env.S3_REGION || env.AWS_REGION || "us-east-1",
        prefix: checkPrefix(env.S3_PREFIX || DEFAULT_BACKUP_PREFIX),
        ...(monthly === undefined ? {} : { monthly }),
    };
}

/** S3_MONTHLY_MONTHS (a whole number, 0 to 120) and S3_COLD_STORAGE_CLASS; undefined when no monthly copies are kept. */
function monthlyFromEnv(env: NodeJS.ProcessEnv): MonthlyArchive | undefined {
    const months = env.S3_MONTHLY_MONTHS ?? "0";
    if (!/^\d{1,3}$/.test(months) || Number(months) > 120) {
        throw new UsageError(`S3_MONTHLY_MONTHS must be the months a monthly copy is kept, 0 (none) to 120, got "${months}"`);
    }
    const storageClass = env.S3_COLD_STORAGE_CLASS || DEFAULT_COLD_STORAGE_CLASS;
    if (storageClass !== "none" && !/^[A-Z][A-Z0-9_]*$/.test(storageClass)) {
        throw new UsageError(`S3_COLD_STORAGE_CLASS must be a storage class such as GLACIER (capitals, digits, _) or none, got "${storageClass}"`);
    }
    if (Number(months) === 0) return undefined;
    return { keepMonths: Number(months), ...(storageClass === "none" ? {} : { storageClass }) };
}

/** An S3 client for these settings (path-style, checksums only where the API requires them). */
export function s3Client(settings: S3Settings): S3Client {
    return new S3Client({
        endpoint: settings.endpoint,
        region: settings.region,
        forcePathStyle: true,
        credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
    });
}

/** `s3://bucket/key at endpoint`, for messages. */
export function describeObject(settings: Pick<S3Settings, "bucket" | "endpoint">, key: string): string {
    return `s3://${settings.bucket}/${key}${settings.endpoint ? ` at ${settings.endpoint}` : ""}`;
}

/**
 * Uploads a verified archive as `<prefix><file name>`, with its sha256, migration version,
 * environment and image tags as object metadata, after ensuring the bucket's rules (the prefix's
 * expiry, and the monthly copies' rule when they are kept); confirms the stored size with HEAD;
 * then, when monthly copies are kept and none of this environment exists for the archive's month
 * (UTC), copies it to `monthly/<YYYY-MM>/`. No ACL is sent: the objects get the bucket's own
 * (private unless the team opened the bucket), never a public-read one.
 */
export async function uploadBackup(
    archivePath: string,
    metadata: BackupMetadata,
    settings: S3Settings,
    progress: Progress = silentProgress,
): Promise<UploadedBackup> {
    const client = s3Client(settings);
    const prefix = checkPrefix(settings.prefix ?? DEFAULT_BACKUP_PREFIX);
    const key = `${prefix}${path.basename(archivePath)}`;
    const started = Date.now();
    const where = describeObject(settings, key);
    try {
        const rules = [backupLifecycleRule(settings.expiryDays ?? BACKUP_EXPIRY_DAYS, prefix)];
        if (settings.monthly) rules.push(monthlyLifecycleRule(settings.monthly));
        const bucketRules = await ensureBackupBucket(client, settings.bucket, rules);
        if (bucketRules.transitionRefused !== undefined && settings.monthly) {
            progress.line(
                `backup: warning: the store refused the monthly copies' transition to ${settings.monthly.storageClass} (${bucketRules.transitionRefused}); ` +
                    `they stay in its standard class until they expire after ${monthlyExpiryDays(settings.monthly.keepMonths)} days`,
            );
        }
        const size = (await fs.stat(archivePath)).size;
        await client.send(
            new PutObjectCommand({
                Bucket: settings.bucket,
                Key: key,
                Body: createReadStream(archivePath),
                ContentLength: size,
                ContentType: "application/gzip",
                Metadata: objectMetadata(await sha256File(archivePath), metadata),
            }),
        );
        const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
        if (head.ContentLength !== size) {
            throw new Error(`stored size ${head.ContentLength} differs from local ${size}`);
        }
        progress.line(`backup: uploaded ${where} (${formatBytes(size)} in ${formatDuration(Date.now() - started)})`);
        const monthlyKey = settings.monthly ? await keepMonthlyCopy(client, settings, key, progress) : undefined;
        return { bucket: settings.bucket, key, size, ...(monthlyKey === undefined ? {} : { monthlyKey }) };
    } catch (error) {
        throw new OperationError(`upload to ${where} failed: ${(error as Error).message}; the local archive ${archivePath} is kept`, { cause: error });
    } finally {
        client.destroy();
    }
}

/** The stored object's metadata: what `backup list --remote` shows without downloading it. S3 metadata is ASCII. */
function objectMetadata(archiveSha256: string, metadata: BackupMetadata): Record<string, string> {
    const ascii = (text: string) => text.replace(/[^\x20-\x7e]/g, "?");
    return {
        "archive-sha256": archiveSha256,
        "migration-version": metadata.migration_version,
        environment: metadata.environment,
        "image-tags": ascii(describeImageTags(metadata)),
    };
}

/** What an archive records of the images: `blue=v1.2.2,green=v1.3.0 live=blue`, else `api=…,web=…`, else "-". */
export function describeImageTags(metadata: Pick<BackupMetadata, "image_tags" | "colors" | "live">): string {
    if (metadata.colors !== undefined && metadata.live !== undefined) {
        return `blue=${metadata.colors.blue},green=${metadata.colors.green} live=${metadata.live}`;
    }
    const tags = Object.entries(metadata.image_tags).map(([name, tag]) => `${name}=${tag}`);
    return tags.length === 0 ? "-" : tags.join(",");
}

/**
 * The month's first archive of its environment is also kept as `monthly/<YYYY-MM>/<archive>`
 * (a copy inside the store); a month that has one keeps it. Returns the new copy's key.
 */
async function keepMonthlyCopy(client: S3Client, settings: S3Settings, key: string, progress: Progress): Promise<string | undefined> {
    const name = path.posix.basename(key);
    const parts = parseBackupArchiveName(name);
    if (parts === undefined) {
        progress.line(`backup: no monthly copy of ${name}: not an archive name with a date`);
        return undefined;
    }
    const month = parts.createdAt.toISOString().slice(0, 7);
    const monthPrefix = `${MONTHLY_BACKUP_PREFIX}${month}/`;
    const listed = await client.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: monthPrefix }));
    const existing = (listed.Contents ?? [])
        .map(object => object.Key ?? "")
        .find(existingKey => parseBackupArchiveName(path.posix.basename(existingKey))?.environment === parts.environment);
    if (existing !== undefined) {
        progress.line(`backup: ${month} already has its monthly copy, ${describeObject(settings, existing)}`);
        return undefined;
    }
    const monthlyKey = `${monthPrefix}${name}`;
    await client.send(new CopyObjectCommand({ Bucket: settings.bucket, Key: monthlyKey, CopySource: `${settings.bucket}/${key}` }));
    progress.line(`backup: kept ${describeObject(settings, monthlyKey)} as ${month}'s monthly copy (${settings.monthly!.keepMonths} months)`);
    return monthlyKey;
}
