/**
 * Where archives go in a backup store, and for how long: plain values shared by the upload
 * (./s3.ts), the listing and download (./store.ts) and the Pulumi program's description of a
 * stack's store (components/backupStore.ts), which must not load the S3 client.
 */

/** Runbook appendix C: object-store backups expire after 30 days. */
export const BACKUP_EXPIRY_DAYS = 30;
/** Key prefix of the archives in the bucket; the expiry rule covers only it, never the team's other objects. */
export const DEFAULT_BACKUP_PREFIX = "physioflow-backups/";
