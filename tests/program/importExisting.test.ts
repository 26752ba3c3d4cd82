/**
 * `importExisting` (set for one update by `physioflow import`): the namespace, database and owner
 * role adopt the team's objects by name; nothing else is imported, and without the setting
 * nothing is. The namespace's import runs on the real engine in tests/engine/importExisting.test.ts.
 */
import * as assert from "assert";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";

describe("importExisting in the program", () => {
    it("adopts the namespace, the database and the owner role by name; the role's password and the namespace's labels are set by the next update", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "true" }));
        const imported = run.resources
            .filter(r => r.options.importId !== undefined)
            .map(r => ({ resource: `${r.type}/${r.name}`, id: r.options.importId, ignoreChanges: r.options.ignoreChanges }))
            .sort((a, b) => a.resource.localeCompare(b.resource));
        assert.deepStrictEqual(imported, [
            { resource: "kubernetes:core/v1:Namespace/physioflow-prod", id: "physioflow-prod", ignoreChanges: ["metadata.labels"] },
            { resource: "postgresql:index/database:Database/physioflow_prod", id: "physioflow_prod", ignoreChanges: [] },
            { resource: "postgresql:index/role:Role/physioflow_prod-emr", id: "emr", ignoreChanges: ["password"] },
        ]);
        // Adopted objects keep their protection.
        for (const [type, name] of [
            ["postgresql:index/role:Role", "physioflow_prod-emr"],
            ["postgresql:index/database:Database", "physioflow_prod"],
        ]) {
            assert.deepStrictEqual([find(run, type, name).options.protect, find(run, type, name).options.retainOnDelete], [true, true]);
        }
        assert.strictEqual(find(run, "kubernetes:core/v1:Namespace", "physioflow-prod").options.retainOnDelete, true);
    });

    it("without it nothing is imported, and a bad value is refused with one line", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod"));
        assert.deepStrictEqual(
            run.resources.filter(r => r.options.importId !== undefined || r.options.ignoreChanges.length > 0).map(r => r.name),
            [],
        );
        await assert.rejects(runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "yes" })), {
            message: 'physioflow:importExisting is "yes"; allowed values: true, false',
        });
    });
});
