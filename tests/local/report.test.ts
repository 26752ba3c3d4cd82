import * as assert from "assert";
import { ResourceStep } from "../../release/engineEvents";
import { formatState, formatSteps, summarizeSteps } from "../../local/report";

const step = (type: string, name: string, op: ResourceStep["op"], diffs: string[] = []): ResourceStep => ({
    urn: `urn:x::${name}`,
    type,
    name,
    op,
    diffs,
    replaceBecause: [],
});

describe("npm run local report", () => {
    const rollback = [
        step("pulumi:pulumi:Stack", "physioflow-local", "same"),
        step("kubernetes:core/v1:Service", "physioflow-api", "update", ["spec.selector.version"]),
        step("kubernetes:apps/v1:Deployment", "physioflow-api-green", "update", ["spec.replicas"]),
        step("kubernetes:core/v1:ConfigMap", "physioflow-api-config", "same"),
    ];

    it("lists changes sorted by type and name with their paths, then the unchanged count", () => {
        assert.deepStrictEqual(formatSteps(rollback), [
            "~ Deployment physioflow-api-green  update  spec.replicas",
            "~ Service physioflow-api           update  spec.selector.version",
            "1 unchanged",
        ]);
        assert.deepStrictEqual(formatSteps([rollback[0], rollback[3]]), ["no changes (1 resources unchanged)"]);
    });

    it("summarizes an update, changes first", () => {
        assert.strictEqual(summarizeSteps(rollback, "did"), "2 updated, 1 unchanged");
        assert.strictEqual(summarizeSteps([step("kubernetes:core/v1:Secret", "s", "create")], "will"), "1 to create");
    });

    it("shows the state with what each live Service selects and serves, and each Deployment's readiness", () => {
        const lines = formatState({
            outputs: {
                activeColor: "green",
                inactiveColor: "blue",
                tags: { blue: "v1.0.0", green: "v1.1.0" },
                replicas: { api: { blue: 0, green: 1 } },
                services: { api: "physioflow-api", apiPreview: "physioflow-api-preview", web: "physioflow-web" },
                migrationVersion: "006",
                namespaceName: "physioflow-local",
                environment: "local",
            },
            cluster: {
                jobs: {},
                services: {
                    "physioflow-api": {
                        selector: { app: "physioflow-api", version: "green" },
                        readyPods: ["physioflow-api-green-1-a"],
                        readyColors: ["green"],
                    },
                    "physioflow-api-preview": { selector: { app: "physioflow-api", version: "blue" }, readyPods: [], readyColors: [] },
                },
                deployments: {
                    "physioflow-api-green": {
                        image: "r/physioflow-api:v1.1.0",
                        replicas: 1,
                        readyReplicas: 1,
                        updatedReplicas: 1,
                        availableReplicas: 1,
                        observed: true,
                    },
                    "physioflow-api-blue": {
                        image: "r/physioflow-api:v1.0.0",
                        replicas: 0,
                        readyReplicas: 0,
                        updatedReplicas: 0,
                        availableReplicas: 0,
                        observed: true,
                    },
                },
            },
            databaseVersion: "006",
        });
        assert.deepStrictEqual(lines, [
            "active color  green (inactive: blue)",
            "tags          blue v1.0.0, green v1.1.0 (active)",
            "services      physioflow-api          selects app=physioflow-api,version=green; 1 ready endpoint(s): green",
            "              physioflow-api-preview  selects app=physioflow-api,version=blue; no ready endpoints",
            "              physioflow-web          (not in the cluster)",
            "deployments   physioflow-api-blue   0/0 ready  r/physioflow-api:v1.0.0",
            "              physioflow-api-green  1/1 ready  r/physioflow-api:v1.1.0",
            "migration     006 in ConfigMap migration-version; database at 006",
            "namespace     physioflow-local (environment local)",
        ]);
    });
});
