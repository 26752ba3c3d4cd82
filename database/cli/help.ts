import { commandListText } from "./commands";

/** `physioflow --help`: the commands come from ./commands.ts. */
export const MAIN_HELP = `Usage: physioflow <command> [options]

Database migrations, blue-green lint, backups and restores for PhysioFlow, and releases.

Commands:
${commandListText()}

Run "physioflow migrate --help", "physioflow backup --help" or "physioflow <command> --help" for options.

Connection: DATABASE_URL, or PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
Global options: --verbose (stack traces on errors), --quiet (no progress on stderr).
Exit codes: 0 success, 1 refused or failed, 2 bad input.
`;

/** `physioflow migrate --help`. */
export const MIGRATE_HELP = `Usage: physioflow migrate <status|validate|up|down|lint|version> [options]

Options:
  --dir DIR             migrations directory (default: migrations); down scripts in DIR/rollback/
  --to NNN              up: stop at NNN; down: go back to NNN (required, "000" undoes everything)
  --dry-run             print the plan; change nothing (no lock, no schema_migrations table)
  --lock-timeout T      each file's statements wait at most T (e.g. 5s, 30s, 500ms) for a table lock, then the
                        file fails, rolled back, naming the session holding it (default 5s; PostgreSQL lock_timeout)
  --runner-wait T       wait at most T for another migration runner's advisory lock (default 60s)
  --backup-out DIR      up: take a verified backup into DIR before the first change;
                        down: where its verified backup goes (default: backups, in the working directory)
  --yes                 down: do not ask (required when there is no terminal)
  --env ENV, --label L, --tags api=v1.2.3,web=v1.2.3
                        recorded in the backup (defaults: local, pre-migrate-<NNN> for up, pre-down-<NNN> for down;
                        down takes --env only)

Files: DIR/NNN_description.sql and DIR/rollback/NNN_down.sql. Header directives:
  -- physioflow:no-transaction          run outside a transaction (CREATE INDEX CONCURRENTLY); one statement per file
  -- physioflow:allow-breaking <reason> let a blue-green-breaking change through the lint
  -- physioflow:lock-timeout 30s         this file's lock_timeout instead of --lock-timeout
  -- physioflow:statement-timeout 10m    this file's statement_timeout (default: none)
`;

/** `physioflow backup --help`. */
export const BACKUP_HELP = `Usage: physioflow backup <create|verify|restore|prune|list|fetch> [options]

create --out DIR        pg_dump (custom format) + metadata.json in a .tar.gz, verified, then older
                        archives of the same environment beyond --keep (default 10) are pruned
  --env ENV             environment in the name and metadata (default: local)
  --label L             e.g. pre-deploy-v1.2.3 (default: manual)
  --tags api=v1,web=v1  image tags recorded in metadata.json
  --colors blue=v1,green=v2 --live blue
                        both colors' tags and the live color, recorded in metadata.json (what
                        rollback --restore reads to pick the color); with no --tags, the live
                        color's tag is recorded as api and web too
  --upload              also upload to S3: S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
                        (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), S3_REGION (default us-east-1);
                        the bucket gets a 30-day expiry lifecycle rule on S3_PREFIX (default
                        physioflow-backups/); with S3_MONTHLY_MONTHS=N the month's first backup is
                        also kept as monthly/<YYYY-MM>/<archive> for N months, moved to
                        S3_COLD_STORAGE_CLASS (default GLACIER, or none) by a rule of its own
verify FILE             sha256, pg_restore --list, and schema_migrations in the dump vs metadata
restore FILE            verify first (a damaged or mismatching archive is refused before the database is
                        touched), ask to type the database name (or --yes), restore in one transaction
  --yes                 do not ask (required when there is no terminal)
  --env ENV             the target's environment (required): an archive of another one is refused
  --allow-other-env     restore an archive of another environment (then --env may be left out)
  --allow-other-database
                        restore an archive taken of a database with another name than the target's
  --backup-out DIR      where the safety backup of the target goes, taken after the confirmation and
                        before anything is replaced (default: backups, in the working directory)
  --lock-timeout T      wait at most T for locks held by other sessions (default 60s)
prune --dir DIR --keep N
list --env ENV | --dir DIR [--remote]
                        the archives in DIR (default $HOME/physioflow-backups/ENV) and, with --remote,
                        in the store (S3_* as for --upload; its prefix and monthly/), newest first:
                        where, time, environment, label, migration version, tags, size, path or s3:// URL
fetch NAME|latest|s3://BUCKET/KEY --env ENV | --dir DIR
                        download a stored archive (by name, the newest of --env, or its URL) into DIR,
                        check its size and sha256 against the upload's, verify it like verify FILE,
                        then keep it (0600) and print its path; a failed or damaged download leaves
                        nothing behind
`;
