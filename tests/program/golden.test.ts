/**
 * The whole program as each stack declares it: every resource's inputs and options, each
 * component's outputs and the stack outputs, compared with a reviewed copy in
 * tests/program/golden/<stack>.json. Any change to what the program would ask of the cluster and
 * the database (a probe threshold, a label, a Service port, a command's environment, an option such
 * as protect or dependsOn) fails here until the copy is rewritten and the diff of that file read in
 * review:
 *
 *     UPDATE_GOLDEN=1 npx mocha --no-config -r ts-node/register/transpile-only --extension ts tests/program/golden.test.ts
 *
 * The focused tests beside this one say why each safety-relevant value is what it is; this one
 * makes sure nothing else moves unseen. Secrets are written as "[secret]" (their values are
 * test values, and a secret that became plain would show as a change).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { isSecretInput } from "../support/inputDiff";
import { runProgram, stackConfigWithSecrets } from "../support/programRun";

const goldenDir = path.join(__dirname, "golden");

/** Plain JSON with secrets masked and keys in a stable order. */
function normalize(value: unknown): unknown {
    if (isSecretInput(value)) return "[secret]";
    if (Array.isArray(value)) return value.map(normalize);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map(key => [key, normalize((value as Record<string, unknown>)[key])]),
        );
    }
    return value;
}

for (const stack of ["dev", "staging", "prod"]) {
    describe(`the ${stack} stack as a whole`, () => {
        it(`matches tests/program/golden/${stack}.json`, async () => {
            const run = await runProgram(stack, stackConfigWithSecrets(stack));
            const exported: Record<string, unknown> = {};
            const exports: Record<string, any> = run.exports;
            for (const [key, value] of Object.entries(run.outputs)) {
                exported[key] = isSecretInput(exports[key]) || (exports[key] && (await exports[key].isSecret)) ? "[secret]" : value;
            }
            // Through JSON, as the file holds it: undefined members dropped.
            const actual = JSON.parse(
                JSON.stringify(
                    normalize({
                        resources: run.resources
                            .map(r => ({ type: r.type, name: r.name, inputs: r.inputs, options: r.options }))
                            .sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`)),
                        componentOutputs: Object.fromEntries(run.componentOutputs),
                        outputs: exported,
                    }),
                ),
            );
            const file = path.join(goldenDir, `${stack}.json`);
            if (process.env.UPDATE_GOLDEN === "1") {
                fs.writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
            }
            assert.ok(fs.existsSync(file), `${file} is missing: run this test with UPDATE_GOLDEN=1 and review the file`);
            const expected = JSON.parse(fs.readFileSync(file, "utf8"));
            assert.deepStrictEqual(
                actual,
                expected,
                `the ${stack} stack changed: if intended, run with UPDATE_GOLDEN=1 and review the diff of ${path.relative(process.cwd(), file)}`,
            );
        });
    });
}
