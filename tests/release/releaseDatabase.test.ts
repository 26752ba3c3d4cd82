/**
 * The stack's database as the release commands reach it (release/releaseDatabase.ts's
 * `releaseDatabaseFromConfig`), from the typed config every command reads: dev's stack file, and
 * the settings `npm run local` gives its own stack.
 */
import * as assert from "assert";
import * as path from "path";
import { parseStackConfig } from "../../components/config";
import { localStackSettings } from "../../local/localStackConfig";
import { releaseDatabaseFromConfig } from "../../release/releaseDatabase";
import type { StackSecretKey } from "../../release/stackConfig";
import { stackFileConfig } from "../support/programRun";

const repoRoot = "/repo";
/** The stack's secrets as `releaseDatabaseFromConfig` asks for them, by key. */
const secrets = (values: Partial<Record<StackSecretKey, string>>) => (key: StackSecretKey) => values[key];
const dev = parseStackConfig(Object.fromEntries(Object.entries(stackFileConfig("dev")).map(([key, value]) => [key.replace(/^physioflow:/, ""), value])));

describe("releaseDatabaseFromConfig: the stack's database from its typed config", () => {
    it("dev: the stack's host, port, database, role and sslmode, the password given, backups under $HOME", () => {
        assert.deepStrictEqual(releaseDatabaseFromConfig(dev, secrets({ dbPassword: "pw" }), repoRoot, { migratesOutsideStack: false }), {
            connection: { host: dev.database.host, port: 5432, user: "emr", password: "pw", database: "physioflow_dev", sslmode: dev.database.sslMode },
            migrationsDir: path.join(repoRoot, "migrations"),
            // Without the store's key secrets the commands cannot reach it.
            backupStore: undefined,
            backupDir: path.resolve(repoRoot, dev.backupDir.replace(/^\$HOME/, process.env.HOME ?? "~")),
            environment: "dev",
            migrationTarget: dev.migrationTarget,
            migratesOutsideStack: false,
        });
        assert.ok(!dev.backupDir.startsWith("/"), "dev's backupDir is expected to start with $HOME");
    });

    it("the backup store: dev's backupS3Endpoint and bucket with the store's key secrets", () => {
        const db = releaseDatabaseFromConfig(dev, secrets({ dbPassword: "pw", backupS3AccessKeyId: "key", backupS3SecretAccessKey: "secret" }), repoRoot, {
            migratesOutsideStack: false,
        })!;
        assert.ok(dev.backupUpload !== undefined, "dev's stack file names its store");
        assert.deepStrictEqual(
            [db.backupStore?.endpoint, db.backupStore?.bucket, db.backupStore?.accessKeyId, db.backupStore?.secretAccessKey, db.backupStore?.region],
            [dev.backupUpload.endpoint, dev.backupUpload.bucket, "key", "secret", dev.backupUpload.region],
        );
    });

    it("local: the server the command started overrides host and port; the port is a number", () => {
        const local = parseStackConfig(localStackSettings({ kubeconfig: "/k", backupDir: ".local/backups", dbPort: 55432 }));
        const db = releaseDatabaseFromConfig(local, secrets({ dbPassword: "pw" }), repoRoot, { migratesOutsideStack: true, host: "127.0.0.1", port: 55433 })!;
        assert.deepStrictEqual([db.connection.host, db.connection.port, db.connection.sslmode, db.environment], ["127.0.0.1", 55433, "disable", "local"]);
        assert.strictEqual(releaseDatabaseFromConfig(local, secrets({ dbPassword: "pw" }), repoRoot, { migratesOutsideStack: true })!.connection.port, 55432);
        assert.strictEqual(db.backupDir, path.join(repoRoot, ".local/backups"));
    });

    it("no dbPassword: the command cannot reach the database (undefined)", () => {
        assert.strictEqual(releaseDatabaseFromConfig(dev, secrets({}), repoRoot, { migratesOutsideStack: false }), undefined);
    });
});
