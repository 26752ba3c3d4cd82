/**
 * The lifecycle rules this tool keeps on a backup bucket: the archives' expiry (runbook appendix C,
 * 30 days) and, where monthly copies are kept, their own rule (a transition to a cold storage class
 * where the store supports it, and a long expiry). Rules are scoped to their prefix alone; the
 * bucket's other rules are kept.
 */
import {
    CreateBucketCommand,
    GetBucketLifecycleConfigurationCommand,
    HeadBucketCommand,
    LifecycleRule,
    PutBucketLifecycleConfigurationCommand,
    S3Client,
    TransitionStorageClass,
} from "@aws-sdk/client-s3";
import { UsageError } from "../errors";
import { DEFAULT_BACKUP_PREFIX, MONTHLY_BACKUP_PREFIX, monthlyExpiryDays } from "./storeLayout";

/** ID of the archives' expiry rule. */
export const BACKUP_LIFECYCLE_RULE_ID = "physioflow-backups-expire";
/** ID of the monthly copies' rule. */
export const MONTHLY_LIFECYCLE_RULE_ID = "physioflow-backups-monthly";

/** How monthly copies are kept. */
export interface MonthlyArchive {
    /** Months each copy is kept (its expiry: 31 days a month). At least 1. */
    keepMonths: number;
    /** Storage class the copies move to at once (e.g. GLACIER, or a MinIO tier's name); undefined: none. */
    storageClass?: string;
}

/** Throws a usage error unless `prefix` is a non-empty key prefix ending in "/" (an empty one would scope the expiry rule to the whole bucket). */
export function checkPrefix(prefix: string): string {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(prefix) || prefix.split("/").some(part => /^\.+$/.test(part))) {
        throw new UsageError(
            `S3_PREFIX must be a key prefix such as physioflow-backups/ (letters, digits, dots, dashes, underscores, ending in "/"), got "${prefix}"`,
        );
    }
    if (prefix.startsWith(MONTHLY_BACKUP_PREFIX)) {
        throw new UsageError(`S3_PREFIX must not be under ${MONTHLY_BACKUP_PREFIX}, where the monthly copies are kept with their own rule, got "${prefix}"`);
    }
    return prefix;
}

/** The rule that expires the archives under `prefix` (and nothing else in the bucket) after `days`. */
export function backupLifecycleRule(days: number, prefix: string = DEFAULT_BACKUP_PREFIX): LifecycleRule {
    return { ID: BACKUP_LIFECYCLE_RULE_ID, Status: "Enabled", Filter: { Prefix: checkPrefix(prefix) }, Expiration: { Days: days } };
}

/** The monthly copies' rule: under `monthly/` only, moved to the cold class at once (when one is named), expired after their months. */
export function monthlyLifecycleRule(monthly: MonthlyArchive): LifecycleRule {
    return {
        ID: MONTHLY_LIFECYCLE_RULE_ID,
        Status: "Enabled",
        Filter: { Prefix: MONTHLY_BACKUP_PREFIX },
        ...(monthly.storageClass === undefined ? {} : { Transitions: [{ Days: 0, StorageClass: monthly.storageClass as TransitionStorageClass }] }),
        Expiration: { Days: monthlyExpiryDays(monthly.keepMonths) },
    };
}

/**
 * True when `wanted` is in force exactly: a rule of its ID, enabled, scoped to its prefix alone,
 * with its expiry and transitions. An older rule of ours that covered the whole bucket does not
 * count, so it gets replaced.
 */
export function ruleInForce(rules: readonly LifecycleRule[], wanted: LifecycleRule): boolean {
    const transitions = (rule: LifecycleRule) => JSON.stringify((rule.Transitions ?? []).map(t => [t.Days, t.StorageClass]));
    return rules.some(rule => {
        const rulePrefix = rule.Filter?.Prefix ?? rule.Prefix ?? "";
        const unfiltered = !rule.Filter?.Tag && !rule.Filter?.And && rule.Filter?.ObjectSizeGreaterThan === undefined;
        return (
            rule.ID === wanted.ID &&
            rule.Status === "Enabled" &&
            rulePrefix === wanted.Filter?.Prefix &&
            unfiltered &&
            rule.Expiration?.Days === wanted.Expiration?.Days &&
            transitions(rule) === transitions(wanted)
        );
    });
}

/** True when this tool's expiry rule is in force exactly as wanted: enabled, scoped to `prefix` alone, expiring after `days`. */
export function lifecycleExpiresAfter(rules: readonly LifecycleRule[], days: number, prefix: string = DEFAULT_BACKUP_PREFIX): boolean {
    return ruleInForce(rules, backupLifecycleRule(days, prefix));
}

/** What {@link ensureBackupBucket} left in force. */
export interface BucketRules {
    /** The bucket's rules afterwards, as the store reports them. */
    rules: LifecycleRule[];
    /** Why the store refused the transitions, when it did: the rules went in without them. */
    transitionRefused?: string;
}

/**
 * Makes sure the bucket exists and carries the `wanted` rules (replacing older rules of the same
 * IDs, keeping any other rules it has). A store that refuses a rule's transition (SeaweedFS answers
 * NotImplemented; MinIO refuses a tier it does not have) gets the rules without their transitions,
 * and the reason is returned, so expiry holds either way.
 */
export async function ensureBackupBucket(client: S3Client, bucket: string, wanted: readonly LifecycleRule[]): Promise<BucketRules> {
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
    if (wanted.every(rule => ruleInForce(existing, rule))) {
        return { rules: existing };
    }
    const ours = new Set(wanted.map(rule => rule.ID));
    const put = (rules: readonly LifecycleRule[]) =>
        client.send(
            new PutBucketLifecycleConfigurationCommand({
                Bucket: bucket,
                LifecycleConfiguration: { Rules: [...existing.filter(rule => !ours.has(rule.ID)), ...rules] },
            }),
        );
    try {
        await put(wanted);
        return { rules: await readLifecycleRules(client, bucket) };
    } catch (error) {
        if (!wanted.some(rule => (rule.Transitions ?? []).length > 0)) throw error;
        const withoutTransitions = wanted.map(({ Transitions: _transitions, ...rule }) => rule);
        if (!withoutTransitions.every(rule => ruleInForce(existing, rule))) await put(withoutTransitions);
        const { name, message } = error as Error;
        return { rules: await readLifecycleRules(client, bucket), transitionRefused: `${name}: ${message}` };
    }
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
