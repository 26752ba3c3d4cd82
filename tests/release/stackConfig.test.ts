import * as assert from "assert";
import type * as auto from "@pulumi/pulumi/automation";
import { configValues, stackConfigFrom, stackSecret } from "../../release/stackConfig";
import { stackConfigWithSecrets } from "../support/programRun";
import { holdMigrations, moveMigrations } from "../../release/migrationHold";

describe("the typed stack-config change the release steps write", () => {
    it("booleans and colors become the stack file's strings; unset keys are not written", () => {
        assert.deepStrictEqual(configValues({ greenTag: "v2", inactiveWarm: true, ...moveMigrations }), {
            greenTag: "v2",
            inactiveWarm: "true",
            holdMigrations: "false",
        });
        assert.deepStrictEqual(configValues({ activeColor: "blue", inactiveWarm: false, ...holdMigrations, blueTag: undefined }), {
            activeColor: "blue",
            inactiveWarm: "false",
            holdMigrations: "true",
        });
    });

    it("a migration target that is not a three-digit version is refused before anything is written", () => {
        assert.throws(() => configValues({ migrationTarget: "7" }), /migrationTarget "7" is not a three-digit migration version/);
        assert.deepStrictEqual(configValues({ migrationTarget: "007" }), { migrationTarget: "007" });
    });
});

describe("the stack's config as every release command reads it (stackConfigFrom, over what stack.getAllConfig() returns)", () => {
    /** What stack.getAllConfig() returns for the dev stack file and its secrets, with `overrides` (undefined: unset). */
    const allConfig = (overrides: Record<string, string | undefined> = {}): auto.ConfigMap =>
        Object.fromEntries(Object.entries(stackConfigWithSecrets("dev", overrides)).map(([key, value]) => [key, { value, secret: /Password$/.test(key) }]));

    it("typed, with the program's defaults: a port is a number, unset keys take their default, secrets are left out", () => {
        const settings = stackConfigFrom(allConfig({ dbPort: undefined, dbSslMode: undefined, namespace: undefined }));
        assert.strictEqual(settings.database.port, 5432);
        assert.strictEqual(settings.database.sslMode, "require");
        assert.strictEqual(settings.namespace, "physioflow-dev");
        assert.strictEqual(settings.database.adminUser, "postgres");
        assert.strictEqual(stackConfigFrom(allConfig({ dbPort: "6543" })).database.port, 6543);
        assert.ok(!JSON.stringify(settings).includes("pw-dev"), "a secret's value got into the settings");
    });

    it("a bad value is refused in one line naming the key, the value and what is allowed (before: a port of NaN)", () => {
        assert.throws(() => stackConfigFrom(allConfig({ dbPort: "54x2" })), {
            name: "ConfigError",
            message: 'physioflow:dbPort is "54x2"; it must be a whole number from 1 to 65535',
        });
        assert.throws(() => stackConfigFrom(allConfig({ dbPort: "70000" })), /^ConfigError: physioflow:dbPort is "70000"/);
    });

    it("a secret where it is used: its value, undefined when unset", () => {
        assert.strictEqual(stackSecret(allConfig(), "dbPassword"), "pw-dev");
        assert.strictEqual(stackSecret(allConfig(), "dbAdminPassword"), "admin-dev");
        assert.strictEqual(stackSecret(allConfig({ dbPassword: undefined }), "dbPassword"), undefined);
    });
});
