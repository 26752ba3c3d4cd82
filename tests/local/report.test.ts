import * as assert from "assert";
import { ResourceStep } from "../../release/engineEvents";
import { formatServing, formatState, formatSteps, summarizeSteps, timelineEvent } from "../../local/report";

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

    it("shows the pods on the node, the live API's answers and the traffic figures", () => {
        const pod = (name: string) => ({ name, nodeName: "physioflow-node-0", ready: true, containerId: `containerd://${name}-id` });
        assert.deepStrictEqual(
            formatServing({
                node: "physioflow-node-0",
                pods: [pod("physioflow-api-green-a"), pod("physioflow-web-green-bb")],
                requests: [
                    { url: "http://10.96.0.9:7011/version", answer: { status: 200, body: '{"version":"v1.0.0"}' } },
                    { url: "http://10.96.0.9:7011/health", answer: { error: "curl: (7) Failed to connect" } },
                ],
                traffic: { figures: "switch blue→green: 3,971 requests, 0 failed, p99 106 ms", timeline: ".local/traffic/s.svg" },
            }),
            [
                "pods      physioflow-api-green-a   on physioflow-node-0, Ready, containerd://physioflow-api-green-a-id",
                "          physioflow-web-green-bb  on physioflow-node-0, Ready, containerd://physioflow-web-green-bb-id",
                'GET       http://10.96.0.9:7011/version -> 200 {"version":"v1.0.0"}',
                "          http://10.96.0.9:7011/health -> no answer: curl: (7) Failed to connect",
                "traffic   switch blue→green: 3,971 requests, 0 failed, p99 106 ms",
                "timeline  .local/traffic/s.svg",
            ],
        );
        assert.deepStrictEqual(formatServing({ node: "n", pods: [], requests: [], traffic: { notMeasured: "nothing was live before this update" } }), [
            "pods      none of the apps' pods runs on n",
            "traffic   not measured: nothing was live before this update",
        ]);
    });

    it("marks the live API's endpoint changes and its Deployments' ready counts on a timeline, nothing else", () => {
        assert.strictEqual(timelineEvent("+24.5s Service physioflow-api -> green (1 ready: green)"), "physioflow-api -> green (1 ready: green)");
        assert.strictEqual(
            timelineEvent("+34.5s Deployment physioflow-api-blue: registry.local:5000/physioflow-api:v1.0.0, 0/0 ready"),
            "physioflow-api-blue 0/0 ready",
        );
        assert.strictEqual(timelineEvent("+24.5s Service physioflow-web -> green (1 ready: green)"), undefined);
        assert.strictEqual(timelineEvent("+24.5s Service physioflow-api-preview -> blue (no ready endpoints)"), undefined);
        assert.strictEqual(timelineEvent("+16.2s Deployment physioflow-web-green: registry.local:5000/physioflow-web:v1.0.0, 1/1 ready"), undefined);
        assert.strictEqual(timelineEvent("+22.2s Job physioflow-smoke-green (v1.0.0, migration 006): running"), undefined);
    });
});
