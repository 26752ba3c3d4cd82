/**
 * The stack guard's shape (components/stackGuard.ts): protected, registered after everything, and
 * depending on every object an update could delete. What it does on the real engine, an update
 * whose program was cut short deleting nothing, is tests/engine/stackGuard.test.ts.
 */
import * as assert from "assert";
import { stackGuardName } from "../../components/stackGuard";
import { ProgramRun, runProgram, stackConfigWithSecrets } from "../support/programRun";

const guardType = "physioflow:index:StackGuard";

/** The custom resources whose delete nothing else refuses: neither protected themselves nor providers (a provider's delete touches nothing). */
const deletable = (run: ProgramRun) =>
    run.resources
        .filter(r => !r.type.startsWith("physioflow:") && !r.type.startsWith("pulumi:providers:") && !r.options.protect)
        .map(r => `${r.type}/${r.name}`)
        .sort();

describe("the stack guard", () => {
    for (const [what, stack, config] of [
        ["prod, green live and blue warm (both colors' smoke tests)", "prod", { activeColor: "green", inactiveWarm: "true", blueTag: "v1", greenTag: "v2" }],
        ["dev as it is", "dev", {}],
    ] as const) {
        it(`${what}: protected, registered last, depending on every object the stack could delete and on the kubernetes provider`, async () => {
            const run = await runProgram(stack, stackConfigWithSecrets(stack, config));
            const guards = run.resources.filter(r => r.type === guardType);
            assert.deepStrictEqual(
                guards.map(g => g.name),
                [stackGuardName],
            );
            const guard = guards[0];
            assert.strictEqual(guard.options.protect, true);
            assert.strictEqual(run.resources[run.resources.length - 1], guard, "registered after every other resource");
            const objects = deletable(run);
            assert.ok(objects.length > 20, objects.join("\n"));
            assert.deepStrictEqual(
                objects.filter(o => !guard.options.dependsOn.includes(o)),
                [],
            );
            assert.ok(guard.options.dependsOn.includes("pulumi:providers:kubernetes/k8s"), guard.options.dependsOn.join("\n"));
            const smokeJobs = guard.options.dependsOn.filter(d => d.startsWith("kubernetes:batch/v1:Job/"));
            assert.deepStrictEqual(
                smokeJobs,
                stack === "prod"
                    ? ["kubernetes:batch/v1:Job/physioflow-smoke-blue", "kubernetes:batch/v1:Job/physioflow-smoke-green"]
                    : ["kubernetes:batch/v1:Job/physioflow-smoke-blue"],
            );
        });
    }
});
