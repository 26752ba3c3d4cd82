import * as assert from "assert";
import { rolloutWaitFor } from "../../components/colorDeployment";
import { diffRuns } from "../support/inputDiff";
import { runProgram, stackConfigWithSecrets } from "../support/programRun";

const describeChange = (c: { resource: string; path: string }) => `${c.resource} ${c.path}`;

for (const stack of ["dev", "prod"]) {
    describe(`releases on ${stack}`, () => {
        it("rollback is a selector flip: only the Services' selectors and the colors' replicas change", async () => {
            const onBlue = await runProgram(stack, stackConfigWithSecrets(stack, { activeColor: "blue" }));
            const onGreen = await runProgram(stack, stackConfigWithSecrets(stack, { activeColor: "green" }));
            const changes = diffRuns(onBlue, onGreen).map(describeChange).sort();
            const replicas = stack === "prod" ? 2 : 1;
            assert.deepStrictEqual(changes, [
                "kubernetes:apps/v1:Deployment/physioflow-api-blue metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-api-blue spec.replicas",
                "kubernetes:apps/v1:Deployment/physioflow-api-green metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-api-green spec.replicas",
                "kubernetes:apps/v1:Deployment/physioflow-web-blue metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-web-blue spec.replicas",
                "kubernetes:apps/v1:Deployment/physioflow-web-green metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-web-green spec.replicas",
                "kubernetes:core/v1:Service/physioflow-api spec.selector.version",
                "kubernetes:core/v1:Service/physioflow-api-preview spec.selector.version",
                "kubernetes:core/v1:Service/physioflow-web spec.selector.version",
                "kubernetes:core/v1:Service/physioflow-web-preview spec.selector.version",
            ]);
            const change = (resource: string, path: string) =>
                diffRuns(onBlue, onGreen).find(c => c.resource === resource && c.path === path);
            assert.deepStrictEqual(change("kubernetes:core/v1:Service/physioflow-api", "spec.selector.version"),
                { resource: "kubernetes:core/v1:Service/physioflow-api", path: "spec.selector.version", before: "blue", after: "green" });
            assert.deepStrictEqual(change("kubernetes:apps/v1:Deployment/physioflow-api-green", "spec.replicas"),
                { resource: "kubernetes:apps/v1:Deployment/physioflow-api-green", path: "spec.replicas", before: 0, after: replicas });
            // The provider's readiness conditions follow the replica count (components/colorDeployment.ts).
            assert.deepStrictEqual(change("kubernetes:apps/v1:Deployment/physioflow-api-green", "metadata.annotations.pulumi.com/waitFor"),
                { resource: "kubernetes:apps/v1:Deployment/physioflow-api-green", path: "metadata.annotations.pulumi.com/waitFor", before: rolloutWaitFor(0), after: rolloutWaitFor(replicas) });
            assert.strictEqual(onGreen.outputs.activeColor, "green");
        });

        it("a release touches only the inactive color's Deployment", async () => {
            const before = await runProgram(stack, stackConfigWithSecrets(stack, { activeColor: "blue", greenTag: "v1.2.3" }));
            const after = await runProgram(stack, stackConfigWithSecrets(stack, { activeColor: "blue", greenTag: "v1.3.0" }));
            const changes = diffRuns(before, after);
            assert.deepStrictEqual(changes.map(describeChange).sort(), [
                "kubernetes:apps/v1:Deployment/physioflow-api-green spec.template.spec.containers.0.image",
                "kubernetes:apps/v1:Deployment/physioflow-web-green spec.template.spec.containers.0.image",
            ]);
            assert.deepStrictEqual(changes.map(c => c.after).sort(), [
                "registry.trancloud.work/physioflow-api:v1.3.0",
                "registry.trancloud.work/physioflow-web:v1.3.0",
            ]);
        });

        it("keeping the inactive color warm changes only its replica counts", async () => {
            const cold = await runProgram(stack, stackConfigWithSecrets(stack));
            const warm = await runProgram(stack, stackConfigWithSecrets(stack, { inactiveReplicas: "1" }));
            assert.deepStrictEqual(diffRuns(cold, warm).map(describeChange).sort(), [
                "kubernetes:apps/v1:Deployment/physioflow-api-green metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-api-green spec.replicas",
                "kubernetes:apps/v1:Deployment/physioflow-web-green metadata.annotations.pulumi.com/waitFor",
                "kubernetes:apps/v1:Deployment/physioflow-web-green spec.replicas",
            ]);
        });
    });
}
