import {
    CreateBucketCommand,
    GetBucketLifecycleConfigurationCommand,
    HeadBucketCommand,
    HeadObjectCommand,
    LifecycleRule,
    PutBucketLifecycleConfigurationCommand,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { createReadStream, promises as fs } from "fs";
import * as path from "path";
import { OperationError, UsageError } from "../errors";
import { Progress, formatBytes, formatDuration, silentProgress } from "../progress";
import { BackupMetadata } from "./metadata";
import { BACKUP_EXPIRY_DAYS, DEFAULT_BACKUP_PREFIX } from "./storeLayout";
import { sha256File } from "./verify";

export { BACKUP_EXPIRY_DAYS, DEFAULT_BACKUP_PREFIX };
/** ID of the lifecycle rule this tool maintains. */
export const BACKUP_LIFECYCLE_RULE_ID = "physioflow-backups-expire";

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
}

/** Where an archive went. */
export interface UploadedBackup {
    bucket: string;
    key: string;
    /** Size confirmed by HEAD after the upload. */
    size: number;
}

/**
 * Reads S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (or
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), S3_REGION (default us-east-1) and
 * S3_PREFIX (default physioflow-backups/).
 */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Settings {
    const accessKeyId = env.S3_ACCESS_KEY_ID || env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.S3_SECRET_ACCESS_KEY || env.AWS_SECRET_ACCESS_KEY;
    const missing = [
        !env.S3_BUCKET && "S3_BUCKET",
        !accessKeyId && "S3_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID)",
        !secretAccessKey && "S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY)",
    ].filter(Boolean);
    if (missing.length > 0) {
        throw new UsageError(`--upload needs ${missing.join(", ")} in the environment (and S3_ENDPOINT for MinIO)`);
    }
    return {
        endpoint: env.S3_ENDPOINT || undefined,
        bucket: env.S3_BUCKET!,
        accessKeyId: accessKeyId!,
        secretAccessKey: secretAccessKey!,
        region: env.S3_REGION || env.AWS_REGION || "us-east-1",
        prefix: checkPrefix(env.S3_PREFIX || DEFAULT_BACKUP_PREFIX),
    };
}

/** Throws a usage error unless `prefix` is a non-empty key prefix ending in "/" (an empty one would scope the expiry rule to the whole bucket). */
export function checkPrefix(prefix: string): string {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(prefix) || prefix.split("/").some(part => /^\.+$/.test(part))) {
        throw new UsageError(
            `S3_PREFIX must be a key prefix such as physioflow-backups/ (letters, digits, dots, dashes, underscores, ending in "/"), got "${prefix}"`,
        );
    }
    return prefix;
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

/** The rule that expires the archives under `prefix` (and nothing else in the bucket) after `days`. */
export function backupLifecycleRule(days: number, prefix: string = DEFAULT_BACKUP_PREFIX): LifecycleRule {
    return { ID: BACKUP_LIFECYCLE_RULE_ID, Status: "Enabled", Filter: { Prefix: checkPrefix(prefix) }, Expiration: { Days: days } };
}

/**
 * True when this tool's rule is in force exactly as wanted: enabled, scoped to `prefix` alone,
 * expiring after `days`. An older rule of ours that covered the whole bucket does not count, so
 * it gets replaced.
 */
export function lifecycleExpiresAfter(rules: readonly LifecycleRule[], days: number, prefix: string = DEFAULT_BACKUP_PREFIX): boolean {
    return rules.some(rule => {
        const rulePrefix = rule.Filter?.Prefix ?? rule.Prefix ?? "";
        const unfiltered = !rule.Filter?.Tag && !rule.Filter?.And && rule.Filter?.ObjectSizeGreaterThan === undefined;
        return rule.ID === BACKUP_LIFECYCLE_RULE_ID && rule.Status === "Enabled" && rulePrefix === prefix && unfiltered && rule.Expiration?.Days === days;
    });
}

/**
 * Makes sure the bucket exists and carries the expiry rule for the archives'
 * prefix, keeping any other rules it has. Returns the rules in force afterwards.
 */
export async function ensureBackupBucket(client: S3Client, bucket: string, days: number, prefix: string = DEFAULT_BACKUP_PREFIX): Promise<LifecycleRule[]> {
    try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 404) {
            throw error;
        }
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
    }
    const existing = await readLifecycleRules(client, bucket);
    if (lifecycleExpiresAfter(existing, days, prefix)) {
        return existing;
    }
    const rules = [...existing.filter(rule => rule.ID !== BACKUP_LIFECYCLE_RULE_ID), backupLifecycleRule(days, prefix)];
    await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
    return readLifecycleRules(client, bucket);
}

/** The bucket's lifecycle rules (empty when it has none). */
export async function readLifecycleRules(client: S3Client, bucket: string): Promise<LifecycleRule[]> {
    try {
        const result = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
        return result.Rules ?? [];
    } catch (error) {
        if ((error as { name?: string }).name === "NoSuchLifecycleConfiguration") {
            return [];
        }
        throw error;
    }
}

/**
 * Uploads a verified archive as `<prefix><file name>`, with its sha256 and
 * migration version as object metadata, after ensuring the prefix's expiry
 * rule; confirms the stored size with HEAD. No ACL is sent: the object gets
 * the bucket's own (private unless the team opened the bucket), never a
 * public-read one.
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
    const where = `s3://${settings.bucket}/${key}${settings.endpoint ? ` at ${settings.endpoint}` : ""}`;
    try {
        await ensureBackupBucket(client, settings.bucket, settings.expiryDays ?? BACKUP_EXPIRY_DAYS, prefix);
        const size = (await fs.stat(archivePath)).size;
        await client.send(
            new PutObjectCommand({
                Bucket: settings.bucket,
                Key: key,
                Body: createReadStream(archivePath),
                ContentLength: size,
                ContentType: "application/gzip",
                Metadata: {
                    "archive-sha256": await sha256File(archivePath),
                    "migration-version": metadata.migration_version,
                    environment: metadata.environment,
                },
            }),
        );
        const head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
        if (head.ContentLength !== size) {
            throw new Error(`stored size ${head.ContentLength} differs from local ${size}`);
        }
        progress.line(`backup: uploaded ${where} (${formatBytes(size)} in ${formatDuration(Date.now() - started)})`);
        return { bucket: settings.bucket, key, size };
    } catch (error) {
        throw new OperationError(`upload to ${where} failed: ${(error as Error).message}; the local archive ${archivePath} is kept`, { cause: error });
    } finally {
        client.destroy();
    }
}
