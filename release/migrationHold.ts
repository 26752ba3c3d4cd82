/**
 * Who may move the stack's migration target (components/migrationFiles.ts, `holdMigrations`):
 * a rollback never backs up or migrates, whatever new files the checkout holds, so every rollback
 * update holds the migrations at the version the stack applied (the program then keeps
 * DatabaseRelease's triggers as its last update recorded them); a deploy's release step, the one
 * step that moves the target, ends the hold, and so does a restore, which records the restored version.
 */

/** Set by every rollback update (normal, `--emergency`'s reconcile, the watch's automatic rollback). */
export const holdMigrations = { holdMigrations: true } as const;

/** Set by the steps that move the target: a deploy's release step, and a restore's update. */
export const moveMigrations = { holdMigrations: false } as const;
