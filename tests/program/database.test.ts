import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { backupCommand, lastLine, latestBackupCommand, migrateCommand, migrateVersionCommand } from "../../components/databaseCommands";
import { migrationsChecksum, resolveMigrationTarget } from "../../components/migrationFiles";
import { diffRuns, isSecretInput } from "../support/inputDiff";
import { find, ProgramRun, runProgram, stackConfigWithSecrets, warningsOf } from "../support/programRun";

const Command = "command:local:Command";
const repoMigrations = path.resolve(__dirname, "..", "..", "migrations");

describe("database command lines", () => {
    it("backup create", () => {
        assert.strictEqual(
            backupCommand({
                cli: "node bin/physioflow.js",
                backupDir: "$HOME/physioflow-backups/dev",
                environment: "dev",
                label: "pre-migrate-015",
                upload: false,
                colorTags: { blue: "v1.2.2", green: "v1.3.0" },
                activeColor: "blue",
            }),
            'node bin/physioflow.js backup create --out "$HOME/physioflow-backups/dev" --env dev --label pre-migrate-015 --colors blue=v1.2.2,green=v1.3.0 --live blue',
        );
        assert.strictEqual(
            backupCommand({
                cli: "physioflow",
                backupDir: "/srv/backups",
                environment: "prod",
                label: "pre-migrate-015",
                upload: true,
                colorTags: { blue: "v1.2.2", green: "v1.2.2" },
                activeColor: "green",
            }),
            'physioflow backup create --out "/srv/backups" --env prod --label pre-migrate-015 --colors blue=v1.2.2,green=v1.2.2 --live green --upload',
        );
    });

    it("migrate up, then the version alone", () => {
        assert.strictEqual(
            migrateCommand("node bin/physioflow.js", "migrations", "015"),
            "node bin/physioflow.js migrate up --dir migrations --to 015 && node bin/physioflow.js migrate version --dir migrations",
        );
    });

    it("the read-only commands an in-place update runs: the newest archive of the label (run by a real shell), and migrate version", () => {
        assert.strictEqual(
            latestBackupCommand({ backupDir: "$HOME/physioflow-backups/dev", environment: "dev", label: "pre-migrate-015" }),
            'ls -1 "$HOME/physioflow-backups/dev"/dev_pre-migrate-015_????????_??????.tar.gz 2>/dev/null | sort | tail -n 1',
        );
        assert.strictEqual(migrateVersionCommand("node bin/physioflow.js", "migrations"), "node bin/physioflow.js migrate version --dir migrations");
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-latest-"));
        const dir = path.join(home, "physioflow-backups", "dev");
        const run = () =>
            execFileSync("sh", ["-c", latestBackupCommand({ backupDir: "$HOME/physioflow-backups/dev", environment: "dev", label: "pre-migrate-015" })], {
                env: { ...process.env, HOME: home },
                encoding: "utf8",
            });
        try {
            assert.strictEqual(run(), "", "no folder yet: nothing, and no failure");
            fs.mkdirSync(dir, { recursive: true });
            for (const name of [
                "dev_pre-migrate-015_20261101_090000.tar.gz",
                "dev_pre-migrate-015_20261128_101500.tar.gz",
                "dev_pre-migrate-016_20261129_000000.tar.gz",
                "prod_pre-migrate-015_20261129_000000.tar.gz",
                "dev_pre-migrate-015_20261129_000000.tar.gz.partial",
            ]) {
                fs.writeFileSync(path.join(dir, name), "");
            }
            assert.strictEqual(run(), `${dir}/dev_pre-migrate-015_20261128_101500.tar.gz\n`);
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });

    it("the last non-empty stdout line", () => {
        assert.strictEqual(lastLine("applying 015\n015\n\n"), "015");
        assert.strictEqual(lastLine("  015  \n   \n"), "015", "trimmed, blank lines skipped");
        assert.strictEqual(lastLine("a\nb"), "b");
        assert.strictEqual(lastLine("\n \n"), "");
        assert.strictEqual(lastLine(""), "");
    });
});

describe("database in the stack", () => {
    let run: ProgramRun;
    const target = resolveMigrationTarget(undefined, repoMigrations);
    before(async () => {
        run = await runProgram("dev", stackConfigWithSecrets("dev"));
    });

    it("a backup command recording both colors' tags and the live color, then a migrate command, re-run by the target version and the files' hash", () => {
        const backup = find(run, Command, "physioflow_dev-release-backup").inputs;
        const migrate = find(run, Command, "physioflow_dev-release-migrate").inputs;
        // Pulumi.dev.yaml: blue v1.2.2 live, green v1.2.3.
        assert.strictEqual(
            backup.create,
            `node bin/physioflow.js backup create --out "$HOME/physioflow-backups/dev" --env dev --label pre-migrate-${target} --colors blue=v1.2.2,green=v1.2.3 --live blue --upload`,
        );
        assert.strictEqual(migrate.create, migrateCommand("node bin/physioflow.js", "migrations", target));
        const triggers = [target, migrationsChecksum(repoMigrations)];
        assert.deepStrictEqual(backup.triggers, triggers);
        assert.deepStrictEqual(migrate.triggers, triggers);
        // Any other change (a rotated password, backup settings) updates in place with read-only commands.
        assert.strictEqual(
            backup.update,
            latestBackupCommand({ backupDir: "$HOME/physioflow-backups/dev", environment: "dev", label: `pre-migrate-${target}` }),
        );
        assert.strictEqual(migrate.update, migrateVersionCommand("node bin/physioflow.js", "migrations"));
        assert.strictEqual(migrate.delete, undefined, "a migration has no automatic undo");
    });

    it("order: the migration waits for the backup, each color's Deployments for the migration; both commands belong to the DatabaseRelease", () => {
        const backup = find(run, Command, "physioflow_dev-release-backup").options;
        const migrate = find(run, Command, "physioflow_dev-release-migrate").options;
        assert.strictEqual(backup.parent, "physioflow:db:DatabaseRelease/physioflow_dev-release");
        assert.strictEqual(migrate.parent, "physioflow:db:DatabaseRelease/physioflow_dev-release");
        assert.ok(migrate.dependsOn.includes("command:local:Command/physioflow_dev-release-backup"), `migrate waits for ${migrate.dependsOn.join(", ")}`);
        assert.ok(!backup.dependsOn.includes("command:local:Command/physioflow_dev-release-migrate"));
        for (const deployment of ["physioflow-api-blue", "physioflow-api-green", "physioflow-web-blue", "physioflow-web-green"]) {
            const waitsFor = find(run, "kubernetes:apps/v1:Deployment", deployment).options.dependsOn;
            assert.ok(
                waitsFor.includes("command:local:Command/physioflow_dev-release-migrate") ||
                    waitsFor.includes("physioflow:db:DatabaseRelease/physioflow_dev-release"),
                `${deployment} waits for ${waitsFor.join(", ")}`,
            );
        }
        // What the component registers as its outputs is what index.ts exports.
        assert.match(run.outputs.lastBackup, /\.tar\.gz$/);
        assert.match(run.outputs.migrationVersion, /^\d{3}$/);
    });

    it("a rotated password or other backup settings update the commands in place (read-only), they never re-run the backup or migration", async () => {
        const rotated = await runProgram("dev", stackConfigWithSecrets("dev", { dbPassword: "pw-dev-rotated", backupDir: "/srv/physioflow-backups" }));
        for (const name of ["physioflow_dev-release-backup", "physioflow_dev-release-migrate"]) {
            const before = find(run, Command, name);
            const after = find(rotated, Command, name);
            // Only `triggers` replace a Command (the SDK's replaceOnChanges), and so run `create`; they are unchanged.
            assert.deepStrictEqual(after.inputs.triggers, before.inputs.triggers, name);
            assert.deepStrictEqual(after.options.replaceOnChanges, ["triggers[*]"], name);
            const changed = diffRuns(run, rotated)
                .filter(change => change.resource === `${Command}/${name}`)
                .map(change => change.path.split(".")[0]);
            assert.ok(changed.length > 0 && changed.every(key => ["environment", "create", "update"].includes(key)), `${name}: ${changed.join(", ")}`);
        }
        assert.strictEqual(
            find(rotated, Command, "physioflow_dev-release-migrate").inputs.update,
            migrateVersionCommand("node bin/physioflow.js", "migrations"),
        );
    });

    it("the password reaches the commands only as a secret environment variable", () => {
        for (const name of ["physioflow_dev-release-backup", "physioflow_dev-release-migrate"]) {
            const inputs = find(run, Command, name).inputs;
            // The SDK marks the whole map secret when one value in it is.
            assert.ok(isSecretInput(inputs.environment), `${name}: the environment carrying PGPASSWORD must be secret`);
            const database = {
                PGHOST: "192.168.10.24",
                PGPORT: "5432",
                PGDATABASE: "physioflow_dev",
                PGUSER: "emr",
                PGSSLMODE: "require",
                PGPASSWORD: "pw-dev",
            };
            const store = {
                S3_ENDPOINT: "https://minio.trancloud.work",
                S3_BUCKET: "physioflow-backups-dev",
                S3_REGION: "us-east-1",
                S3_MONTHLY_MONTHS: "0",
                S3_COLD_STORAGE_CLASS: "GLACIER",
                S3_ACCESS_KEY_ID: "s3-key-dev",
                S3_SECRET_ACCESS_KEY: "s3-secret-dev",
            };
            assert.deepStrictEqual(inputs.environment.value, name.endsWith("-backup") ? { ...database, ...store } : database);
            for (const secret of ["pw-dev", "s3-key-dev", "s3-secret-dev"]) assert.ok(!inputs.create.includes(secret), "never on a command line");
        }
    });

    for (const stack of ["dev", "staging", "prod"]) {
        it(`${stack}: the stack file's store is on by default: the backup uploads to physioflow-backups-${stack}, its credentials secrets`, async () => {
            const stackRun = stack === "dev" ? run : await runProgram(stack, stackConfigWithSecrets(stack));
            const backup = find(stackRun, Command, `physioflow_${stack}-release-backup`).inputs;
            // The exact command line: the store's credentials are not on it.
            assert.strictEqual(
                backup.create,
                `node bin/physioflow.js backup create --out "$HOME/physioflow-backups/${stack}" --env ${stack} --label pre-migrate-${target} --colors blue=v1.2.2,green=v1.2.3 --live blue --upload`,
            );
            assert.ok(isSecretInput(backup.environment));
            const { S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } = backup.environment.value;
            assert.deepStrictEqual(
                [S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY],
                ["https://minio.trancloud.work", `physioflow-backups-${stack}`, "us-east-1", `s3-key-${stack}`, `s3-secret-${stack}`],
            );
            // Monthly cold copies: prod's 12 months by default, none elsewhere.
            assert.strictEqual(backup.environment.value.S3_MONTHLY_MONTHS, stack === "prod" ? "12" : "0");
            const migrate = find(stackRun, Command, `physioflow_${stack}-release-migrate`).inputs;
            assert.strictEqual(migrate.environment.value.S3_SECRET_ACCESS_KEY, undefined, "only the backup gets the store's credentials");
        });
    }

    it("a stack without a store backs up locally and says so as a warning; prod only with backupLocalOnly", async () => {
        const noStore = { backupS3Endpoint: undefined, backupS3Bucket: undefined, backupS3Region: undefined };
        const { result: local, warnings } = await warningsOf(() => runProgram("staging", stackConfigWithSecrets("staging", noStore)));
        assert.ok(!find(local, Command, "physioflow_staging-release-backup").inputs.create.endsWith("--upload"));
        assert.deepStrictEqual(
            warnings.filter(w => w.includes("backupS3Endpoint")),
            [
                "warning: [runtime] backups of staging stay in $HOME/physioflow-backups/staging on the machine running pulumi up, and nowhere else: no backupS3Endpoint is set " +
                    "(runbook appendix C: 30 days in the team's MinIO; set backupS3Endpoint and backupS3Bucket, or backupLocalOnly true)",
            ],
        );
        await assert.rejects(
            runProgram("prod", stackConfigWithSecrets("prod", noStore)),
            /^Error: physioflow:backupS3Endpoint is not set, so prod's backups would stay/,
        );
        const onPurpose = await warningsOf(() => runProgram("prod", stackConfigWithSecrets("prod", { ...noStore, backupLocalOnly: "true" })));
        assert.deepStrictEqual(
            onPurpose.warnings.filter(w => w.includes("backupLocalOnly")),
            [
                "warning: [runtime] backups of prod stay in $HOME/physioflow-backups/prod on the machine running pulumi up, and nowhere else, on purpose (backupLocalOnly)",
            ],
        );
        const stored = await warningsOf(() => runProgram("prod", stackConfigWithSecrets("prod")));
        assert.deepStrictEqual(
            stored.warnings.filter(w => w.includes("backup")),
            [],
        );
    });

    it("a backup store without its credentials is refused", async () => {
        await assert.rejects(
            runProgram("prod", stackConfigWithSecrets("prod", { backupS3AccessKeyId: undefined })),
            /^Error: physioflow:backupS3AccessKeyId is not set; set it as a secret: pulumi config set --secret backupS3AccessKeyId <value>$/,
        );
    });

    it("the migration-version ConfigMap follows the applied version", () => {
        assert.strictEqual(find(run, "kubernetes:core/v1:ConfigMap", "migration-version").inputs.data.version, target);
        assert.strictEqual(run.outputs.migrationVersion, target);
    });

    it("the database, its role and grants, created with the admin role's secret password", () => {
        const provider = find(run, "pulumi:providers:postgresql", "physioflow_dev-admin").inputs;
        assert.strictEqual(provider.host, "192.168.10.24");
        assert.strictEqual(provider.username, "postgres");
        const role = find(run, "postgresql:index/role:Role", "physioflow_dev-emr").inputs;
        assert.strictEqual(role.name, "emr");
        assert.strictEqual(role.login, true);
        assert.ok(isSecretInput(role.password), "the role's password must stay secret");
        const db = find(run, "postgresql:index/database:Database", "physioflow_dev").inputs;
        assert.deepStrictEqual([db.name, db.owner], ["physioflow_dev", "emr"]);
        const grant = find(run, "postgresql:index/grant:Grant", "physioflow_dev-emr-database").inputs;
        assert.deepStrictEqual([grant.database, grant.role, grant.objectType], ["physioflow_dev", "emr", "database"]);
    });

    it("the database and the role that owns its tables are protected and retained, the grant protected: no update or destroy drops them", () => {
        const options = (type: string, name: string) => {
            const o = find(run, type, name).options;
            return { protect: o.protect ?? false, retainOnDelete: o.retainOnDelete ?? false };
        };
        assert.deepStrictEqual(options("postgresql:index/database:Database", "physioflow_dev"), { protect: true, retainOnDelete: true });
        assert.deepStrictEqual(options("postgresql:index/role:Role", "physioflow_dev-emr"), { protect: true, retainOnDelete: true });
        assert.deepStrictEqual(options("postgresql:index/grant:Grant", "physioflow_dev-emr-database"), { protect: true, retainOnDelete: false });
    });
});
