/**
 * DatabaseRelease on its own: the stack config already refuses a bad migrationTarget, so the
 * component's own check is never reached through the program (npm run test:mutation:components).
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";

describe("DatabaseRelease refuses a migration target that is not three digits", () => {
    before(async () => {
        await pulumi.runtime.setMocks({
            newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
            call: (args) => args.inputs,
        }, "physioflow", "dev", false);
    });

    it("names the component and the value, before any command is declared", async () => {
        const { DatabaseRelease } = await import("../../components/databaseRelease");
        const args = {
            environment: "dev", host: "127.0.0.1", port: 5432, database: "physioflow_dev", user: "emr", password: "pw", sslMode: "disable",
            migrationsDir: "migrations", migrationsChecksum: "abc", backupDir: "/srv/backups",
        };
        for (const target of ["15", "0015", "01a", " 015", ""]) {
            assert.throws(() => new DatabaseRelease("physioflow-db", { ...args, migrationTarget: target }), (err: Error) => {
                assert.ok(err instanceof pulumi.ResourceError, String(err));
                assert.strictEqual(err.message, `physioflow-db: migrationTarget is "${target}"; use a three-digit version like 015`);
                return true;
            });
        }
        assert.ok(new DatabaseRelease("physioflow-db-ok", { ...args, migrationTarget: "015" }) instanceof pulumi.ComponentResource);
        await (pulumi.runtime as any).waitForRPCs();
    });
});
