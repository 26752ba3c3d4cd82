/**
 * PhysioFlow database tooling: migrations with a blue-green lint, backups and
 * restores. The Pulumi stack drives it through the CLI (`physioflow ...`,
 * database/cli/main.ts); tests and scripts may call these functions directly.
 */
export type { ConnectionSettings } from "./connection";
export { connectionFromEnv, describeConnection, withDatabase } from "./connection";
export { OperationError, UsageError } from "./errors";
export type { Progress } from "./progress";
export { silentProgress, stderrProgress } from "./progress";

export type { MigrateDownOptions, MigrateResult, MigrateUpOptions, MigrationOptions, MigrationStatus, MigrationStatusRow } from "./migrations/runner";
export {
    MigrationFailedError,
    MigrationValidationError,
    checkMigrations,
    currentMigrationVersion,
    migrateDown,
    migrateUp,
    migrationStatus,
} from "./migrations/runner";
export type { MigrationDirectives, MigrationFile, RollbackFile } from "./migrations/files";
export { NO_VERSION } from "./migrations/files";
export type { MigrationSet } from "./migrations/load";
export { loadMigrationSet } from "./migrations/load";
export type { PlanStep } from "./migrations/plan";
export { planDown, planUp } from "./migrations/plan";
export type { AppliedMigration, ValidationProblem } from "./migrations/validate";
export { validateMigrationSet } from "./migrations/validate";

export { lintMigrationFiles } from "./lint/lintMigrations";
export type { FileLintReport, LintViolation } from "./lint/rules";
export { evaluateLint, formatLintReport } from "./lint/rules";

export type { CreateBackupOptions, CreatedBackup } from "./backup/create";
export { createBackup } from "./backup/create";
export type { VerifyReport } from "./backup/verify";
export { verifyBackup } from "./backup/verify";
export type { RestoreOptions, RestoreReport, RestoreSummary } from "./backup/restore";
export { restoreBackup } from "./backup/restore";
export { DEFAULT_KEEP, KEEP_SUFFIX, keptArchives, markArchiveKept, pruneBackups, selectArchivesToPrune } from "./backup/retention";
export { backupArchiveName, parseBackupArchiveName } from "./backup/archiveName";
export type { BackupMetadata } from "./backup/metadata";
export { parseBackupMetadata } from "./backup/metadata";
export type { S3Settings, UploadedBackup } from "./backup/s3";
export { BACKUP_EXPIRY_DAYS, s3SettingsFromEnv, uploadBackup } from "./backup/s3";

export type { CliIo } from "./cli/main";
export { main } from "./cli/main";
