import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

/** The resource options the engine would receive, as the mock monitor saw them. */
export interface RecordedOptions {
    /** Every resource this one waits for (`dependsOn` and inputs taken from other resources), as `type/name`. */
    dependsOn: string[];
    /** Parent, as `type/name`; undefined for the stack's direct children. */
    parent?: string;
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    customTimeouts?: { create?: string; update?: string; delete?: string };
    /** The `import` option: the ID of an existing object the resource adopts. */
    importId?: string;
    /** The provider a custom resource is created with (given or inherited from its parent), as `type/name`; undefined for the default provider. */
    provider?: string;
}

/** One resource as the program registered it. */
export interface RecordedResource {
    type: string;
    name: string;
    inputs: any;
    options: RecordedOptions;
}

export interface ProgramRun {
    resources: RecordedResource[];
    /** The stack outputs, resolved. */
    outputs: Record<string, any>;
    /** The stack outputs as the program exported them (for checking secrecy). */
    exports: Record<string, any>;
    /** Each component's registered outputs by `type/name`, as the engine receives them (secrets marked). */
    componentOutputs: Map<string, Record<string, unknown>>;
}

const repoRoot = path.resolve(__dirname, "..", "..");
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
    const config: Record<string, string> = { ...stackFileConfig(stack), "physioflow:dbPassword": `pw-${stack}`, "physioflow:dbAdminPassword": `admin-${stack}`,
        "physioflow:blueDbPassword": `blue-pw-${stack}`, "physioflow:greenDbPassword": `green-pw-${stack}` };
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[`physioflow:${key}`];
        else config[`physioflow:${key}`] = value;
    }
    return config;
}

/** `type/name` of a URN, e.g. `kubernetes:batch/v1:Job/physioflow-smoke-blue`. */
export function urnName(urn: string): string {
    const [, , typePath, ...name] = urn.split("::");
    return `${typePath.split("$").pop()}/${name.join("::")}`;
}

// The mocks API passes a resource's inputs but not its options; the monitor's request has both.
const optionsOfRequest = new Map<string, RecordedOptions>();
// Patched below: its methods are wrapped, and a marker keeps a second load of this file from wrapping twice.
const mockMonitor = MockMonitor.prototype as any;
if (!mockMonitor.__physioflowRecordsOptions) {
    const register = mockMonitor.registerResource;
    mockMonitor.registerResource = function (req: any, callback: any) {
        const timeouts = req.getCustomtimeouts()?.toObject();
        optionsOfRequest.set(`${req.getType()}/${req.getName()}`, {
            dependsOn: [...new Set<string>(req.getDependenciesList().map(urnName))].sort(),
            parent: req.getParent() ? urnName(req.getParent()) : undefined,
            protect: req.getProtect() === true,
            retainOnDelete: req.getRetainondelete() === true,
            deleteBeforeReplace: req.getDeletebeforereplace() === true,
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            customTimeouts: timeouts && (timeouts.create || timeouts.update || timeouts.pb_delete)
                ? { create: timeouts.create || undefined, update: timeouts.update || undefined, delete: timeouts.pb_delete || undefined } : undefined,
            importId: req.getImportid() || undefined,
            // A provider reference is "<urn>::<id>".
            provider: req.getProvider() ? urnName(req.getProvider().split("::").slice(0, -1).join("::")) : undefined,
        });
        return register.call(this, req, callback);
    };
    // A component's registerOutputs: what `pulumi stack export` shows for it.
    const registerOutputs = mockMonitor.registerResourceOutputs;
    mockMonitor.registerResourceOutputs = function (req: any, callback: any) {
        componentOutputsOfRun?.set(urnName(req.getUrn()), req.getOutputs()?.toJavaScript() ?? {});
        return registerOutputs.call(this, req, callback);
    };
    mockMonitor.__physioflowRecordsOptions = true;
}
/** Where the running program's component outputs go. */
let componentOutputsOfRun: Map<string, Record<string, unknown>> | undefined;

/** The config keys a stack holds as secrets, by default. */
export const defaultSecretKeys = ["physioflow:dbPassword", "physioflow:dbAdminPassword", "physioflow:blueDbPassword", "physioflow:greenDbPassword"];

/** What a previous update of the stack left as outputs (the program reads them through a StackReference to itself). */
export interface RunOptions {
    previousOutputs?: Record<string, unknown>;
    /** Which of them were secret outputs. */
    previousSecretOutputNames?: string[];
    secretKeys?: string[];
}

/**
 * Runs index.ts under Pulumi's mocks with the given config and records every resource's inputs
 * and options. The program is imported afresh each call, so one test can run it several times.
 */
export async function runProgram(stack: string, config: Record<string, string>, options: RunOptions = {}): Promise<ProgramRun> {
    const resources: RecordedResource[] = [];
    const componentOutputs = new Map<string, Record<string, unknown>>();
    componentOutputsOfRun = componentOutputs;
    const secretKeys = options.secretKeys ?? defaultSecretKeys;
    await pulumi.runtime.setMocks({
        newResource(args) {
            if (args.type === "pulumi:pulumi:StackReference") {
                // A read (readResource), not a registration: no options to record.
                return { id: args.inputs.name, state: { ...args.inputs, outputs: options.previousOutputs ?? {}, secretOutputNames: options.previousSecretOutputNames ?? [] } };
            }
            const recorded = optionsOfRequest.get(`${args.type}/${args.name}`);
            if (recorded === undefined) throw new Error(`no options recorded for ${args.type}/${args.name}`);
            resources.push({ type: args.type, name: args.name, inputs: args.inputs, options: recorded });
            return { id: `${args.name}-id`, state: { ...args.inputs, ...autoName(args.type, args.name, args.inputs), ...commandOutputs(args.type, args.inputs) } };
        },
        call: args => args.inputs,
    }, "physioflow", stack, false, "organization");
    pulumi.runtime.setAllConfig(config, secretKeys);

    delete require.cache[require.resolve(programPath)];
    const module: Record<string, any> = await import(programPath);
    // index.ts is an async program: its default export returns the stack outputs.
    const exported: Record<string, any> = typeof module.default === "function" ? await module.default() : module;
    const outputs: Record<string, any> = {};
    for (const [key, value] of Object.entries(exported)) {
        outputs[key] = await promiseOf(value);
    }
    await (pulumi.runtime as any).waitForRPCs();
    return { resources, outputs, exports: exported, componentOutputs };
}

/** The name the kubernetes provider would give an object without one: its resource name and a suffix. */
function autoName(type: string, name: string, inputs: any): Record<string, unknown> {
    if (!type.startsWith("kubernetes:") || inputs.metadata === undefined || inputs.metadata.name !== undefined) return {};
    return { metadata: { ...inputs.metadata, name: `${name}-0a1b2c3d` } };
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
