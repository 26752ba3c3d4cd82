/**
 * The Pulumi program (index.ts) run under Pulumi's mocks: every resource it registers is handed to
 * `onResource` and answered with its inputs (plus what the providers and the database CLI would
 * report), so its outputs resolve without an engine. `npm run bench` times it; the program tests
 * (tests/support/programRun.ts) record on top of it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..");
const programPath = path.join(repoRoot, "index.ts");

/**
 * Resolves an Output (or anything) in a test; the one way tests read Outputs. Rejects when the
 * value failed or is unknown, where an `apply` callback would never run and the test would only
 * time out.
 */
export async function promiseOf<T>(value: pulumi.Input<T>): Promise<T> {
    // `promise()` and `isKnown` are the SDK's own (internal) accessors of an Output's value.
    const output = pulumi.output(value) as unknown as { promise(): Promise<T>; isKnown: Promise<boolean> };
    const [resolved, known] = await Promise.all([output.promise(), output.isKnown]);
    if (!known) throw new Error("the Output's value is unknown (as in a preview); promiseOf needs a known value");
    return resolved;
}

/** The `config:` map of a stack file in the repo, e.g. `Pulumi.prod.yaml`. */
export function stackFileConfig(stack: string): Record<string, string> {
    const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config ?? {}).map(([k, v]) => [k, String(v)]));
}

/** A stack file's settings plus the secrets a real stack would hold encrypted. */
export function stackConfigWithSecrets(stack: string, overrides: Record<string, string | undefined> = {}) {
    const config: Record<string, string> = {
        ...stackFileConfig(stack),
        "physioflow:dbPassword": `pw-${stack}`,
        "physioflow:dbAdminPassword": `admin-${stack}`,
        "physioflow:blueDbPassword": `blue-pw-${stack}`,
        "physioflow:greenDbPassword": `green-pw-${stack}`,
        // The stack files set a backup store; its keys are secrets like the passwords.
        "physioflow:backupS3AccessKeyId": `s3-key-${stack}`,
        "physioflow:backupS3SecretAccessKey": `s3-secret-${stack}`,
    };
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[`physioflow:${key}`];
        else config[`physioflow:${key}`] = value;
    }
    return config;
}

/** The config keys a stack holds as secrets, by default. */
export const defaultSecretKeys = [
    "physioflow:dbPassword",
    "physioflow:dbAdminPassword",
    "physioflow:blueDbPassword",
    "physioflow:greenDbPassword",
    "physioflow:backupS3AccessKeyId",
    "physioflow:backupS3SecretAccessKey",
];

/** What a previous update of the stack left as outputs (the program reads them through a StackReference to itself). */
export interface RunOptions {
    previousOutputs?: Record<string, unknown>;
    /** Which of them were secret outputs. */
    previousSecretOutputNames?: string[];
    secretKeys?: string[];
    /** Run as a preview (`pulumi.runtime.isDryRun()` true); default an update. */
    preview?: boolean;
}

/** index.ts: the async program. */
type Program = typeof import("../index");

/** The stack outputs as index.ts returns them (Outputs and plain values). */
export type ProgramExports = Awaited<ReturnType<Program>>;

/** The stack outputs, resolved. */
export type ProgramOutputs = { [K in keyof ProgramExports]: pulumi.Unwrap<ProgramExports[K]> };

/** The program's run: its stack outputs, resolved and as it exported them. */
export interface MockedRun {
    /** The stack outputs, resolved. */
    outputs: ProgramOutputs;
    /** The stack outputs as the program exported them (for checking secrecy). */
    exports: ProgramExports;
}

/**
 * Runs index.ts under Pulumi's mocks with the given config; `onResource` sees every resource it
 * registers. The program is imported afresh each call, so it can run several times in a process.
 */
export async function runUnderMocks(
    stack: string,
    config: Record<string, string>,
    options: RunOptions = {},
    onResource: (resource: pulumi.runtime.MockResourceArgs) => void = () => undefined,
): Promise<MockedRun> {
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const inputs = args.inputs as ResourceInputs;
                if (args.type === "pulumi:pulumi:StackReference") {
                    // A read (readResource), not a registration.
                    return {
                        id: inputs.name,
                        state: { ...inputs, outputs: options.previousOutputs ?? {}, secretOutputNames: options.previousSecretOutputNames ?? [] },
                    };
                }
                onResource(args);
                return {
                    id: `${args.name}-id`,
                    state: { ...inputs, ...autoName(args.type, args.name, inputs), ...commandOutputs(args.type, inputs) },
                };
            },
            call: args => args.inputs as Record<string, unknown>,
        },
        "physioflow",
        stack,
        options.preview ?? false,
        "organization",
    );
    // No scale-down delay unless a run asks for one: it is a real wait (setTimeout) in an update.
    pulumi.runtime.setAllConfig({ "physioflow:scaleDownDelaySeconds": "0", ...config }, options.secretKeys ?? defaultSecretKeys);

    delete require.cache[require.resolve(programPath)];
    // index.ts is an async program: its default export returns the stack outputs.
    const program = ((await import(programPath)) as { default: Program }).default;
    const exported = await program();
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(exported)) {
        outputs[key] = await promiseOf<unknown>(value);
    }
    // The SDK's own (internal) wait for the registrations still under way.
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    return { outputs: outputs as ProgramOutputs, exports: exported };
}

/** What the mocks read of a resource's inputs: a StackReference's `name`, a Kubernetes object's `metadata`, a command's `create`. */
interface ResourceInputs {
    name?: string;
    metadata?: Record<string, unknown>;
    create?: string;
    [input: string]: unknown;
}

/** The name the kubernetes provider would give an object without one: its resource name and a suffix. */
function autoName(type: string, name: string, inputs: ResourceInputs): Record<string, unknown> {
    if (!type.startsWith("kubernetes:") || inputs.metadata === undefined || inputs.metadata.name !== undefined) return {};
    return { metadata: { ...inputs.metadata, name: `${name}-0a1b2c3d` } };
}

/** What the CLI would print, so outputs derived from a command's stdout resolve under mocks. */
function commandOutputs(type: string, inputs: ResourceInputs): Record<string, string> {
    if (type !== "command:local:Command") return {};
    const target = /migrate up .*--to (\d{3})/.exec(inputs.create ?? "");
    return { stdout: target ? `applied\n${target[1]}\n` : "/backups/dev_pre-deploy_20260101_000000.tar.gz\n", stderr: "" };
}
