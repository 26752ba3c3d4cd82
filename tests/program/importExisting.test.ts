/**
 * `importExisting` (set for one update by `physioflow import`): the namespace, database and owner
 * role adopt the team's objects by name, and with `importObjects` the listed Deployments, Services
 * and ConfigMap too, each keeping its live spec for that update; nothing else is imported, and
 * without the setting nothing is. The imports run on the real engine in
 * tests/engine/importExisting.test.ts and tests/engine/importRunbookApp.test.ts.
 */
import * as assert from "assert";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";

describe("importExisting in the program", () => {
    it("adopts the namespace, the database and the owner role by name; nothing of the role or database changes in that update (the next one sets what differs), nor the namespace's labels", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "true" }));
        const imported = run.resources
            .filter(r => r.options.importId !== undefined)
            .map(r => ({ resource: `${r.type}/${r.name}`, id: r.options.importId, ignoreChanges: r.options.ignoreChanges }))
            .sort((a, b) => a.resource.localeCompare(b.resource));
        assert.deepStrictEqual(imported, [
            { resource: "kubernetes:core/v1:Namespace/physioflow-prod", id: "physioflow-prod", ignoreChanges: ["metadata.labels"] },
            {
                resource: "postgresql:index/database:Database/physioflow_prod",
                id: "physioflow_prod",
                ignoreChanges: ["owner", "encoding", "lcCollate", "lcCtype", "template", "connectionLimit", "allowConnections", "isTemplate", "tablespaceName"],
            },
            {
                resource: "postgresql:index/role:Role/physioflow_prod-emr",
                id: "emr",
                // The engine imports and then updates what differs in the same run: nothing of the team's role changes in the import's update.
                ignoreChanges: [
                    "password",
                    "superuser",
                    "createDatabase",
                    "createRole",
                    "inherit",
                    "replication",
                    "bypassRowLevelSecurity",
                    "connectionLimit",
                    "validUntil",
                    "roles",
                    "searchPaths",
                    "statementTimeout",
                    "idleInTransactionSessionTimeout",
                    "assumeRole",
                ],
            },
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

    it("with importObjects, adopts exactly the listed objects with their live spec, labels and annotations, and runs no smoke test", async () => {
        const listed = [
            "Deployment/physioflow-api-blue",
            "Deployment/physioflow-web-green",
            "Service/physioflow-api",
            "Service/physioflow-web-blue",
            "ConfigMap/migration-version",
        ];
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "true", importObjects: listed.join(",") }));
        const imported = run.resources
            .filter(r => r.options.importId !== undefined && r.type.startsWith("kubernetes:") && !r.type.endsWith(":Namespace"))
            .map(r => `${r.type.split(":").pop()}/${r.name} ${r.options.importId} [${r.options.ignoreChanges.join(", ")}]`)
            .sort();
        assert.deepStrictEqual(imported, [
            "ConfigMap/migration-version physioflow-prod/migration-version [metadata.labels, metadata.annotations, data]",
            "Deployment/physioflow-api-blue physioflow-prod/physioflow-api-blue [metadata.labels, metadata.annotations, spec]",
            "Deployment/physioflow-web-green physioflow-prod/physioflow-web-green [metadata.labels, metadata.annotations, spec]",
            "Service/physioflow-api physioflow-prod/physioflow-api [metadata.labels, metadata.annotations, spec]",
            "Service/physioflow-web-blue physioflow-prod/physioflow-web-blue [metadata.labels, metadata.annotations, spec]",
        ]);
        // The adopted pods run the team's template: the smoke test is the next update's.
        assert.deepStrictEqual(
            run.resources.filter(r => r.type === "kubernetes:batch/v1:Job").map(r => r.name),
            [],
        );
        // Without Deployments listed, the update keeps its smoke test.
        const servicesOnly = await runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "true", importObjects: "Service/physioflow-api" }));
        assert.deepStrictEqual(
            servicesOnly.resources.filter(r => r.type === "kubernetes:batch/v1:Job").map(r => r.name),
            ["physioflow-smoke-blue"],
        );
    });

    it("without it nothing is imported, and a bad value is refused with one line", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod"));
        assert.deepStrictEqual(
            run.resources.filter(r => r.options.importId !== undefined).map(r => r.name),
            [],
        );
        // Every Service keeps a recorded cluster IP (an adopted one has it in its inputs; losing it would replace the Service); nothing else ignores a change.
        const ignoring = run.resources.filter(r => r.options.ignoreChanges.length > 0);
        assert.deepStrictEqual(
            [...new Set(ignoring.map(r => `${r.type} [${r.options.ignoreChanges.join(", ")}]`))],
            ["kubernetes:core/v1:Service [spec.clusterIP, spec.clusterIPs]"],
        );
        assert.strictEqual(ignoring.length, run.resources.filter(r => r.type === "kubernetes:core/v1:Service").length);
        await assert.rejects(runProgram("prod", stackConfigWithSecrets("prod", { importExisting: "yes" })), {
            message: 'physioflow:importExisting is "yes"; allowed values: true, false',
        });
    });
});
