import * as assert from "assert";
import { configValues } from "../../release/stackConfig";
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
