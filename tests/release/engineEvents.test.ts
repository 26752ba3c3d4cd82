import * as assert from "assert";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { changedSteps, countOps, describeSteps, diagnostics, resourceSteps, shortType } from "../../release/engineEvents";
import { indexOf, timeline } from "../support/engineTimeline";

const urn = (type: string, name: string) => `urn:pulumi:local::physioflow::physioflow:k8s:BlueGreenApp$${type}::${name}`;
const metadata = (op: string, type: string, name: string, detailedDiff?: Record<string, { diffKind: string; inputDiff: boolean }>) =>
    ({ op, type, urn: urn(type, name), provider: "", detailedDiff: detailedDiff ?? null }) as any;
const pre = (sequence: number, m: any): EngineEvent => ({ sequence, timestamp: 0, resourcePreEvent: { metadata: m } });
const done = (sequence: number, m: any): EngineEvent => ({ sequence, timestamp: 0, resOutputsEvent: { metadata: m } });

const service = metadata("update", "kubernetes:core/v1:Service", "physioflow-api", { "spec.selector.version": { diffKind: "update", inputDiff: false } });
const green = metadata("update", "kubernetes:apps/v1:Deployment", "physioflow-api-green", { "spec.replicas": { diffKind: "update", inputDiff: false } });
const config = metadata("same", "kubernetes:core/v1:ConfigMap", "physioflow-api-config");
const events: EngineEvent[] = [
    pre(1, config),
    done(2, config),
    pre(3, green),
    { sequence: 4, timestamp: 0, diagnosticEvent: { message: "using pulumi-resource-kubernetes from $PATH\n", color: "never", severity: "warning" } },
    done(5, green),
    pre(6, service),
    done(7, service),
    { sequence: 8, timestamp: 0, diagnosticEvent: { message: "using pulumi-resource-kubernetes from $PATH\n", color: "never", severity: "warning" } },
];

describe("engine events", () => {
    it("one step per resourcePreEvent, named by the URN's last part, with the changed paths", () => {
        assert.deepStrictEqual(
            resourceSteps(events).map(s => [s.name, s.op, s.diffs]),
            [
                ["physioflow-api-config", "same", []],
                ["physioflow-api-green", "update", ["spec.replicas"]],
                ["physioflow-api", "update", ["spec.selector.version"]],
            ],
        );
    });

    it("describes the changed steps in a sorted, compact form", () => {
        assert.deepStrictEqual(describeSteps(changedSteps(resourceSteps(events))), [
            "Deployment/physioflow-api-green update [spec.replicas]",
            "Service/physioflow-api update [spec.selector.version]",
        ]);
        assert.deepStrictEqual(countOps(resourceSteps(events)), { same: 1, update: 2 });
    });

    it("names the paths that force a replacement", () => {
        const replace = metadata("replace", "kubernetes:apps/v1:Deployment", "physioflow-api-blue", {
            "spec.selector.matchLabels.version": { diffKind: "update-replace", inputDiff: true },
            "spec.replicas": { diffKind: "update", inputDiff: true },
        });
        const [step] = resourceSteps([pre(1, replace)]);
        assert.deepStrictEqual(step.diffs, ["spec.replicas", "spec.selector.matchLabels.version"]);
        assert.deepStrictEqual(step.replaceBecause, ["spec.selector.matchLabels.version"]);
    });

    it("orders starts and finishes as the engine reported them", () => {
        const order = timeline(events);
        const deployment = "kubernetes:apps/v1:Deployment";
        const svc = "kubernetes:core/v1:Service";
        assert.ok(indexOf(order, "done", deployment, "physioflow-api-green") < indexOf(order, "start", svc, "physioflow-api"));
        assert.strictEqual(indexOf(order, "start", deployment, "physioflow-api-blue"), -1);
    });

    it("lists each warning once, trimmed", () => {
        assert.deepStrictEqual(diagnostics(events, "warning"), ["using pulumi-resource-kubernetes from $PATH"]);
        assert.deepStrictEqual(diagnostics(events, "error"), []);
    });

    it("shortens types", () => {
        assert.strictEqual(shortType("kubernetes:apps/v1:Deployment"), "Deployment");
        assert.strictEqual(shortType("physioflow:k8s:BlueGreenApp"), "BlueGreenApp");
        assert.strictEqual(shortType("pulumi:providers:kubernetes"), "provider:kubernetes");
    });
});
