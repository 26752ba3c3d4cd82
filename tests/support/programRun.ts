import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

/** One resource as the program registered it. */
export interface RecordedResource {
    type: string;
    name: string;
    inputs: any;
}

export interface ProgramRun {
    resources: RecordedResource[];
    /** The stack outputs, resolved. */
    outputs: Record<string, any>;
    /** The stack outputs as the program exported them (for checking secrecy). */
    exports: Record<string, any>;
}

const repoRoot = path.resolve(__dirname, "..", "..");
const programPath = path.join(repoRoot, "index.ts");

/** Resolves an Output (or anything) in a test; the one way tests read Outputs. */
export function promiseOf<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise(resolve => pulumi.output(value).apply(v => { resolve(v as T); return v; }));
}

/** The `config:` map of a stack file in the repo, e.g. `Pulumi.prod.yaml`. */
export function stackFileConfig(stack: string): Record<string, string> {
    const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config ?? {}).map(([k, v]) => [k, String(v)]));
}

/** A stack file's settings plus the secrets a real stack would hold encrypted. */
export function stackConfigWithSecrets(stack: string, overrides: Record<string, string | undefined> = {}) {
    const config: Record<string, string> = { ...stackFileConfig(stack), "physioflow:dbPassword": `pw-${stack}`, "physioflow:dbAdminPassword": `admin-${stack}` };
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[`physioflow:${key}`];
        else config[`physioflow:${key}`] = value;
    }
    return config;
}

/**
 * Runs index.ts under Pulumi's mocks with the given config and records every resource's inputs.
 * The program is imported afresh each call, so one test can run it several times.
 */
export async function runProgram(stack: string, config: Record<string, string>, secretKeys = ["physioflow:dbPassword", "physioflow:dbAdminPassword"]): Promise<ProgramRun> {
    const resources: RecordedResource[] = [];
    await pulumi.runtime.setMocks({
        newResource(args) {
            resources.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state: { ...args.inputs, ...commandOutputs(args.type, args.inputs) } };
        },
        call: args => args.inputs,
    }, "physioflow", stack, false);
    pulumi.runtime.setAllConfig(config, secretKeys);

    delete require.cache[require.resolve(programPath)];
    const exports: Record<string, any> = await import(programPath);
    const outputs: Record<string, any> = {};
    for (const [key, value] of Object.entries(exports)) {
        outputs[key] = await promiseOf(value);
    }
    await (pulumi.runtime as any).waitForRPCs();
    return { resources, outputs, exports };
}

/** What the CLI would print, so outputs derived from a command's stdout resolve under mocks. */
function commandOutputs(type: string, inputs: any): Record<string, string> {
    if (type !== "command:local:Command") return {};
    const target = /migrate up .*--to (\d{3})/.exec(inputs.create ?? "");
    return { stdout: target ? `applied\n${target[1]}\n` : "/backups/dev_pre-deploy_20260101_000000.tar.gz\n", stderr: "" };
}

/** The recorded resource of a type and name; fails the test if it is not there. */
export function find(run: ProgramRun, type: string, name: string): RecordedResource {
    const found = run.resources.filter(r => r.type === type && r.name === name);
    if (found.length !== 1) {
        throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${run.resources.map(r => `${r.type}/${r.name}`).join(", ")}`);
    }
    return found[0];
}
