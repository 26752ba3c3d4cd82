/**
 * The program (index.ts) run under Pulumi's mocks for the tests, recording every resource's inputs
 * and the options the engine would receive. The run itself is bench/programUnderMocks.ts's, which
 * `npm run bench` times.
 */
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { MockedRun, RunOptions, runUnderMocks } from "../../bench/programUnderMocks";

export { defaultSecretKeys, promiseOf, stackConfigWithSecrets, stackFileConfig } from "../../bench/programUnderMocks";
export type { RunOptions } from "../../bench/programUnderMocks";

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

export interface ProgramRun extends MockedRun {
    resources: RecordedResource[];
    /** Each component's registered outputs by `type/name`, as the engine receives them (secrets marked). */
    componentOutputs: Map<string, Record<string, unknown>>;
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
            customTimeouts:
                timeouts && (timeouts.create || timeouts.update || timeouts.pb_delete)
                    ? { create: timeouts.create || undefined, update: timeouts.update || undefined, delete: timeouts.pb_delete || undefined }
                    : undefined,
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

/**
 * Runs index.ts under Pulumi's mocks with the given config and records every resource's inputs
 * and options. The program is imported afresh each call, so one test can run it several times.
 */
export async function runProgram(stack: string, config: Record<string, string>, options: RunOptions = {}): Promise<ProgramRun> {
    const resources: RecordedResource[] = [];
    const componentOutputs = new Map<string, Record<string, unknown>>();
    componentOutputsOfRun = componentOutputs;
    const { outputs, exports } = await runUnderMocks(stack, config, options, args => {
        const recorded = optionsOfRequest.get(`${args.type}/${args.name}`);
        if (recorded === undefined) throw new Error(`no options recorded for ${args.type}/${args.name}`);
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, options: recorded });
    });
    return { resources, outputs, exports, componentOutputs };
}

/** The recorded resource of a type and name; fails the test if it is not there. */
export function find(run: ProgramRun, type: string, name: string): RecordedResource {
    const found = run.resources.filter(r => r.type === type && r.name === name);
    if (found.length !== 1) {
        throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${run.resources.map(r => `${r.type}/${r.name}`).join(", ")}`);
    }
    return found[0];
}

/** Captures what the program logs as warnings (under the mocks, pulumi.log.warn writes to console.warn). */
export async function warningsOf<T>(action: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    try {
        return { result: await action(), warnings };
    } finally {
        console.warn = original;
    }
}
