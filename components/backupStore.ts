import { BACKUP_EXPIRY_DAYS, DEFAULT_BACKUP_PREFIX } from "../database/backup/storeLayout";
import type { StackConfig } from "./config";

/** Where a stack's backups go, as `preview` (a warning) and `status` (a line) say it. */
export interface BackupStoreDescription {
    /** True when each backup also goes to the store; false when the machine running `pulumi up` holds the only copies. */
    stored: boolean;
    /** The only copies are local on purpose (`backupLocalOnly`): `status` says so without flagging it. */
    localOnly: boolean;
    /** One line for people, without a leading label. */
    text: string;
}

/**
 * Describes where the stack's backups are kept: in the store (bucket, prefix, endpoint, expiry)
 * besides the local folder, or in the local folder alone, on purpose (`backupLocalOnly`) or not. Pure.
 */
export function describeBackupStore(settings: Pick<StackConfig, "environment" | "backupDir" | "backupUpload" | "backupLocalOnly">): BackupStoreDescription {
    const upload = settings.backupUpload;
    if (upload !== undefined) {
        return {
            stored: true,
            localOnly: false,
            text: `s3://${upload.bucket}/${DEFAULT_BACKUP_PREFIX} at ${upload.endpoint} (${BACKUP_EXPIRY_DAYS} days), and ${settings.backupDir} on the machine running pulumi up`,
        };
    }
    const where = `backups of ${settings.environment} stay in ${settings.backupDir} on the machine running pulumi up, and nowhere else`;
    // The local stack is this machine's by nature (npm run local manages its backup settings).
    if (settings.environment === "local") return { stored: false, localOnly: true, text: `${where} (the local stack)` };
    return {
        stored: false,
        localOnly: settings.backupLocalOnly,
        text: settings.backupLocalOnly
            ? `${where}, on purpose (backupLocalOnly)`
            : `${where}: no backupS3Endpoint is set (runbook appendix C: 30 days in the team's MinIO; set backupS3Endpoint and backupS3Bucket, or backupLocalOnly true)`,
    };
}
