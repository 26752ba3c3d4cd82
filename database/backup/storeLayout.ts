/**
 * Where archives go in a backup store, and for how long: plain values shared by the upload
 * (./s3.ts), the listing and download (./store.ts) and the Pulumi program's description of a
 * stack's store (components/backupStore.ts), which must not load the S3 client.
 */

/** Runbook appendix C: object-store backups expire after 30 days. */
export const BACKUP_EXPIRY_DAYS = 30;
/** Key prefix of the archives in the bucket; the expiry rule covers only it, never the team's other objects. */
export const DEFAULT_BACKUP_PREFIX = "physioflow-backups/";
/**
 * Key prefix of the monthly copies (`monthly/<YYYY-MM>/<archive>`): beside the archives' prefix,
 * never inside it, so the 30-day rule never covers them.
 */
export const MONTHLY_BACKUP_PREFIX = "monthly/";
/** The monthly copies' cold storage class, unless a stack names another (or none). */
export const DEFAULT_COLD_STORAGE_CLASS = "GLACIER";
/** Monthly copies are kept this many months unless a stack says otherwise (prod's default). */
export const DEFAULT_MONTHLY_KEEP_MONTHS = 12;

/** The days after which a monthly copy expires: 31 per month kept, so none goes before its months are up. */
export function monthlyExpiryDays(keepMonths: number): number {
    return keepMonths * 31;
}
