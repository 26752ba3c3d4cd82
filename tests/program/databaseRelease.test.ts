/**
 * The DatabaseRelease component on its own, with the Pulumi mocks: its own checks and the backup
 * command it declares. The stack config already refuses a bad migrationTarget, so the component's
 * own check is never reached through the program (tests/program/database.test.ts).
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";

/** DatabaseRelease's arguments but the migration target, as the dev stack would give them. */
const releaseArgs = {
    environment: "dev",
    host: "127.0.0.1",
    port: 5432,
    database: "physioflow_dev",
    user: "emr",
    password: "pw",
    sslMode: "disable",
    migrationsDir: "migrations",
    migrationsChecksum: "abc",
    backupDir: "/srv/backups",
    colorTags: { blue: "v1.2.2", green: "v1.3.0" },
    activeColor: "blue" as const,
};

describe("DatabaseRelease on its own", () => {
    const created: { name: string; inputs: any }[] = [];
    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource: args => {
                    created.push({ name: args.name, inputs: args.inputs });
                    return { id: `${args.name}-id`, state: args.inputs };
                },
                call: args => args.inputs,
            },
            "physioflow",
            "dev",
            false,
        );
    });

    it("refuses a migration target that is not three digits, naming the component and the value, before any command is declared", async () => {
        const { DatabaseRelease } = await import("../../components/databaseRelease");
        for (const target of ["15", "0015", "01a", " 015", ""]) {
            assert.throws(
                () => new DatabaseRelease("physioflow-db", { ...releaseArgs, migrationTarget: target }),
                (err: Error) => {
                    assert.ok(err instanceof pulumi.ResourceError, String(err));
                    assert.strictEqual(err.message, `physioflow-db: migrationTarget is "${target}"; use a three-digit version like 015`);
                    return true;
                },
            );
        }
        assert.ok(new DatabaseRelease("physioflow-db-ok", { ...releaseArgs, migrationTarget: "015" }) instanceof pulumi.ComponentResource);
        await (pulumi.runtime as any).waitForRPCs();
    });

    it("uploads the backup only when an S3 store is given, with its settings in the environment", async () => {
        const { DatabaseRelease } = await import("../../components/databaseRelease");
        const args = { ...releaseArgs, migrationTarget: "015" };
        new DatabaseRelease("local-only", args);
        new DatabaseRelease("uploaded", {
            ...args,
            backupUpload: { endpoint: "http://s3", bucket: "b", region: "r", monthlyKeepMonths: 0, accessKeyId: "id", secretAccessKey: "key" },
        });
        new DatabaseRelease("monthly", {
            ...args,
            backupUpload: {
                endpoint: "http://s3",
                bucket: "b",
                region: "r",
                monthlyKeepMonths: 12,
                coldStorageClass: "GLACIER",
                accessKeyId: "id",
                secretAccessKey: "key",
            },
        });
        await (pulumi.runtime as any).waitForRPCs();
        const backup = (name: string) => created.find(r => r.name === `${name}-backup`)!.inputs;
        // The environment holds secrets, so the mocks see it as a secret value: { <signature>, value }.
        const environment = (name: string) => backup(name).environment.value;
        assert.strictEqual(
            backup("local-only").create,
            'node bin/physioflow.js backup create --out "/srv/backups" --env dev --label pre-migrate-015 --colors blue=v1.2.2,green=v1.3.0 --live blue',
        );
        assert.strictEqual(
            backup("uploaded").create,
            'node bin/physioflow.js backup create --out "/srv/backups" --env dev --label pre-migrate-015 --colors blue=v1.2.2,green=v1.3.0 --live blue --upload',
        );
        assert.deepStrictEqual(Object.keys(environment("local-only")).sort(), ["PGDATABASE", "PGHOST", "PGPASSWORD", "PGPORT", "PGSSLMODE", "PGUSER"]);
        assert.strictEqual(environment("uploaded").S3_ENDPOINT, "http://s3");
        assert.strictEqual(environment("uploaded").S3_BUCKET, "b");
        // Monthly copies: the months and the cold class reach backup create as S3_MONTHLY_MONTHS and S3_COLD_STORAGE_CLASS.
        assert.deepStrictEqual([environment("uploaded").S3_MONTHLY_MONTHS, environment("uploaded").S3_COLD_STORAGE_CLASS], ["0", "none"]);
        assert.deepStrictEqual([environment("monthly").S3_MONTHLY_MONTHS, environment("monthly").S3_COLD_STORAGE_CLASS], ["12", "GLACIER"]);
    });
});
