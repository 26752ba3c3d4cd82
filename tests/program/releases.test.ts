import * as assert from "assert";
import { rolloutWaitFor } from "../../components/colorDeployment";
import { diffRuns } from "../support/inputDiff";
import { find, runProgram, stackConfigWithSecrets } from "../support/programRun";

const describeChange = (c: { resource: string; path: string }) => `${c.resource} ${c.path}`;
const Deployment = "kubernetes:apps/v1:Deployment";
const Service = "kubernetes:core/v1:Service";
const Job = "kubernetes:batch/v1:Job";

const replicaChanges = (color: string) =>
    ["api", "web"].flatMap(app => [
        `${Deployment}/physioflow-${app}-${color} metadata.annotations.pulumi.com/waitFor`,
        `${Deployment}/physioflow-${app}-${color} spec.replicas`,
    ]);
const selectorChanges = [
    `${Service}/physioflow-api spec.selector.version`,
    `${Service}/physioflow-api-preview spec.selector.version`,
    `${Service}/physioflow-web spec.selector.version`,
    `${Service}/physioflow-web-preview spec.selector.version`,
];
const smokeTestAdded = (color: string) => [`${Job}/physioflow-smoke-${color} (resource)`, `physioflow:k8s:SmokeTest/physioflow-smoke-${color} (resource)`];

for (const stack of ["dev", "prod"]) {
    const replicas = stack === "prod" ? 2 : 1;
    const run = (settings: Record<string, string>) => runProgram(stack, stackConfigWithSecrets(stack, settings));

    // A release or a flip changes the colors the next backup records (its command line): an in-place
    // update of the backup command (read-only `update`), never a replace: its triggers do not change.
    const backupRecordsColors = `command:local:Command/physioflow_${stack}-release-backup create`;

    describe(`releases on ${stack}`, () => {
        it("the release cycle is one readable diff per step: release warm, switch, finish", async () => {
            const steady = await run({ activeColor: "blue", blueTag: "v1.2.2", greenTag: "v1.2.2" });
            const released = await run({ activeColor: "blue", blueTag: "v1.2.2", greenTag: "v1.3.0", inactiveWarm: "true" });
            const switched = await run({ activeColor: "green", blueTag: "v1.2.2", greenTag: "v1.3.0", inactiveWarm: "true" });
            const finished = await run({ activeColor: "green", blueTag: "v1.2.2", greenTag: "v1.3.0" });

            // 1. release: green gets the new tag and full replicas, and a smoke test of its own.
            assert.deepStrictEqual(
                diffRuns(steady, released).map(describeChange).sort(),
                [
                    `${Deployment}/physioflow-api-green metadata.annotations.pulumi.com/waitFor`,
                    `${Deployment}/physioflow-api-green spec.replicas`,
                    `${Deployment}/physioflow-api-green spec.template.spec.containers.0.image`,
                    `${Deployment}/physioflow-web-green metadata.annotations.pulumi.com/waitFor`,
                    `${Deployment}/physioflow-web-green spec.replicas`,
                    `${Deployment}/physioflow-web-green spec.template.spec.containers.0.image`,
                    ...smokeTestAdded("green"),
                    backupRecordsColors,
                ].sort(),
            );
            assert.strictEqual(find(released, Deployment, "physioflow-api-green").inputs.spec.replicas, replicas);
            assert.strictEqual(find(released, Job, "physioflow-smoke-green").inputs.spec.template.metadata.annotations["physioflow/tag"], "v1.3.0");

            // 2. switch while warm: nothing but the four Services' selectors.
            assert.deepStrictEqual(diffRuns(released, switched).map(describeChange).sort(), [backupRecordsColors, ...selectorChanges].sort());
            // ...and a rollback in the warm window is the same flip back.
            assert.deepStrictEqual(diffRuns(switched, released).map(describeChange).sort(), [backupRecordsColors, ...selectorChanges].sort());
            assert.match(
                find(switched, "command:local:Command", `physioflow_${stack}-release-backup`).inputs.create,
                / --colors blue=v1\.2\.2,green=v1\.3\.0 --live green --upload$/,
            );

            // 3. finish: the old color goes to inactiveReplicas (0), its smoke test with it.
            assert.deepStrictEqual(
                diffRuns(switched, finished).map(describeChange).sort(),
                [...replicaChanges("blue"), `${Job}/physioflow-smoke-blue (resource)`, `physioflow:k8s:SmokeTest/physioflow-smoke-blue (resource)`].sort(),
            );
            assert.strictEqual(find(finished, Deployment, "physioflow-api-blue").inputs.spec.replicas, 0);
            assert.strictEqual(finished.outputs.activeColor, "green");
            assert.strictEqual(switched.outputs.inactiveWarm, true);
        });

        it("a cold flip (only activeColor): selectors and replica counts change, the smoke test moves to the new color", async () => {
            const onBlue = await run({ activeColor: "blue" });
            const onGreen = await run({ activeColor: "green" });
            const changes = diffRuns(onBlue, onGreen);
            assert.deepStrictEqual(
                changes.map(describeChange).sort(),
                [
                    ...replicaChanges("blue"),
                    ...replicaChanges("green"),
                    ...selectorChanges,
                    `${Job}/physioflow-smoke-blue (resource)`,
                    `physioflow:k8s:SmokeTest/physioflow-smoke-blue (resource)`,
                    ...smokeTestAdded("green"),
                    backupRecordsColors,
                ].sort(),
            );
            const change = (resource: string, path: string) => changes.find(c => c.resource === resource && c.path === path);
            assert.deepStrictEqual(change(`${Service}/physioflow-api`, "spec.selector.version"), {
                resource: `${Service}/physioflow-api`,
                path: "spec.selector.version",
                before: "blue",
                after: "green",
            });
            assert.deepStrictEqual(change(`${Deployment}/physioflow-api-green`, "spec.replicas"), {
                resource: `${Deployment}/physioflow-api-green`,
                path: "spec.replicas",
                before: 0,
                after: replicas,
            });
            // The provider's readiness conditions follow the replica count (components/colorDeployment.ts).
            assert.deepStrictEqual(change(`${Deployment}/physioflow-api-green`, "metadata.annotations.pulumi.com/waitFor"), {
                resource: `${Deployment}/physioflow-api-green`,
                path: "metadata.annotations.pulumi.com/waitFor",
                before: rolloutWaitFor(0),
                after: rolloutWaitFor(replicas),
            });
        });

        it("a release to a cold inactive color touches only its Deployments' images (and the colors its next backup records)", async () => {
            const before = await run({ activeColor: "blue", greenTag: "v1.2.3" });
            const after = await run({ activeColor: "blue", greenTag: "v1.3.0" });
            const changes = diffRuns(before, after);
            assert.deepStrictEqual(changes.map(describeChange).sort(), [
                backupRecordsColors,
                `${Deployment}/physioflow-api-green spec.template.spec.containers.0.image`,
                `${Deployment}/physioflow-web-green spec.template.spec.containers.0.image`,
            ]);
            assert.deepStrictEqual(
                changes
                    .filter(c => c.resource.startsWith("kubernetes:"))
                    .map(c => c.after)
                    .sort(),
                ["registry.trancloud.work/physioflow-api:v1.3.0", "registry.trancloud.work/physioflow-web:v1.3.0"],
            );
        });

        it("inactiveReplicas keeps the inactive color partly warm: its replica counts and a smoke test of it", async () => {
            const cold = await run({});
            const warm = await run({ inactiveReplicas: "1" });
            assert.deepStrictEqual(diffRuns(cold, warm).map(describeChange).sort(), [...replicaChanges("green"), ...smokeTestAdded("green")].sort());
        });

        it("a new migration version re-runs the smoke test of every color with pods, the live one included", async () => {
            const before = await run({ inactiveWarm: "true", migrationTarget: "005" });
            const after = await run({ inactiveWarm: "true", migrationTarget: "006" });
            const jobChanges = diffRuns(before, after)
                .filter(c => c.resource.startsWith(Job))
                .map(describeChange)
                .sort();
            assert.deepStrictEqual(
                jobChanges,
                ["blue", "green"].flatMap(color => [
                    `${Job}/physioflow-smoke-${color} spec.template.metadata.annotations.physioflow/migration-version`,
                    `${Job}/physioflow-smoke-${color} spec.template.spec.containers.0.env.3.value`,
                ]),
            );
            // Nothing else in the cluster half changes but the recorded version.
            const clusterChanges = diffRuns(before, after).filter(c => c.resource.startsWith("kubernetes:") && !c.resource.startsWith(Job));
            assert.deepStrictEqual(clusterChanges.map(describeChange), ["kubernetes:core/v1:ConfigMap/migration-version data.version"]);
        });
    });
}
