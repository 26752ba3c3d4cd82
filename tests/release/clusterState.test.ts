import * as assert from "assert";
import { ClusterState, clusterStateFrom, describeClusterState, describeLive, liveColorOf, servesOnly } from "../../release/clusterState";
import { serviceServes } from "../support/clusterWait";

const pod = (name: string, version: string) => ({ metadata: { name, labels: { app: "physioflow-api", version } } });
const endpoint = (name: string, ready: boolean) => ({ conditions: { ready }, targetRef: { kind: "Pod", name } });
const lists = {
    services: [
        { metadata: { name: "physioflow-api" }, spec: { selector: { app: "physioflow-api", version: "green" } } },
        { metadata: { name: "physioflow-api-preview" }, spec: { selector: { app: "physioflow-api", version: "blue" } } },
    ],
    slices: [
        { metadata: { labels: { "kubernetes.io/service-name": "physioflow-api" } }, endpoints: [endpoint("g-1", true), endpoint("g-2", false)] },
        { metadata: { labels: { "kubernetes.io/service-name": "physioflow-api" } }, endpoints: [endpoint("b-1", true)] },
        { metadata: { labels: { "kubernetes.io/service-name": "physioflow-api-preview" } } },
    ],
    pods: [pod("g-1", "green"), pod("g-2", "green"), pod("b-1", "blue")],
    deployments: [
        {
            metadata: { name: "physioflow-api-green", generation: 3 },
            spec: { replicas: 2, template: { spec: { containers: [{ image: "r/physioflow-api:v2" }] } } },
            status: { readyReplicas: 1, observedGeneration: 3 },
        },
        {
            metadata: { name: "physioflow-api-blue", generation: 2 },
            spec: { replicas: 0, template: { spec: { containers: [{ image: "r/physioflow-api:v1" }] } } },
            status: { observedGeneration: 1 },
        },
    ],
    jobs: [
        {
            metadata: { name: "physioflow-smoke-green" },
            spec: { template: { metadata: { annotations: { "physioflow/tag": "v2", "physioflow/migration-version": "006" } } } },
            status: {
                conditions: [
                    { type: "SuccessCriteriaMet", status: "True" },
                    { type: "Complete", status: "True" },
                ],
            },
        },
        {
            metadata: { name: "physioflow-smoke-blue" },
            spec: { template: { metadata: { annotations: { "physioflow/tag": "v1", "physioflow/migration-version": "006" } } } },
            status: {
                conditions: [
                    { type: "FailureTarget", status: "True" },
                    { type: "Failed", status: "True" },
                ],
            },
        },
        { metadata: { name: "other" }, spec: { template: { metadata: {} } }, status: {} },
    ],
};

describe("cluster state read back from the API", () => {
    const state = clusterStateFrom(lists);

    it("collects each Service's ready pods from all its EndpointSlices, with their colors", () => {
        assert.deepStrictEqual(state.services["physioflow-api"], {
            selector: { app: "physioflow-api", version: "green" },
            readyPods: ["b-1", "g-1"],
            readyColors: ["blue", "green"],
        });
        assert.deepStrictEqual(state.services["physioflow-api-preview"].readyPods, []);
    });

    it("reads each Deployment's image, desired and ready replicas, and whether its controller saw the last spec", () => {
        assert.deepStrictEqual(state.deployments["physioflow-api-green"], { image: "r/physioflow-api:v2", replicas: 2, readyReplicas: 1, observed: true });
        assert.deepStrictEqual(state.deployments["physioflow-api-blue"], { image: "r/physioflow-api:v1", replicas: 0, readyReplicas: 0, observed: false });
    });

    it("a Service serves a color only when it selects it and every ready endpoint is of it", () => {
        assert.strictEqual(serviceServes(state, "physioflow-api", "green", 2), false, "a blue pod is still among the endpoints");
        const moved = clusterStateFrom({ ...lists, slices: [lists.slices[0], lists.slices[2]] });
        assert.strictEqual(serviceServes(moved, "physioflow-api", "green", 1), true);
        assert.strictEqual(serviceServes(moved, "physioflow-api", "green", 2), false, "one of two pods is not ready");
        assert.strictEqual(serviceServes(moved, "physioflow-api", "blue", 1), false);
        assert.strictEqual(serviceServes(moved, "physioflow-api-preview", "blue", 0), true);
        assert.strictEqual(serviceServes(moved, "physioflow-web", "blue", 0), false, "a missing Service serves nothing");
    });

    it("traffic has moved (what an emergency waits for): every live Service selects the color and its ready endpoints are that color's alone", () => {
        const service = (name: string, version: string, pods: string[], colors: ("blue" | "green")[]) => ({
            [name]: { selector: { app: name, version }, readyPods: pods, readyColors: colors },
        });
        const of = (...services: Record<string, ClusterState["services"][string]>[]): ClusterState => ({
            deployments: {},
            jobs: {},
            services: Object.assign({}, ...services) as ClusterState["services"],
        });
        const web = service("physioflow-web", "green", ["w-g"], ["green"]);
        assert.strictEqual(servesOnly(of(service("physioflow-api", "green", ["a-g"], ["green"]), web), "green"), true);
        assert.strictEqual(
            servesOnly(of(service("physioflow-api", "green", ["a-b", "a-g"], ["blue", "green"]), web), "green"),
            false,
            "a blue pod still serves",
        );
        assert.strictEqual(servesOnly(of(service("physioflow-api", "green", [], []), web), "green"), false, "no ready endpoints yet");
        assert.strictEqual(servesOnly(of(service("physioflow-api", "blue", ["a-g"], ["green"]), web), "green"), false, "selects the other color");
        assert.strictEqual(servesOnly(of(web), "green"), false, "a live Service is missing");
        assert.strictEqual(servesOnly(of(web), "green", ["physioflow-web"]), true, "only the Services asked about");
    });

    it("reads each Job's tested tag and migration version and how it ended", () => {
        assert.deepStrictEqual(state.jobs, {
            "physioflow-smoke-green": { tag: "v2", migrationVersion: "006", status: "succeeded" },
            "physioflow-smoke-blue": { tag: "v1", migrationVersion: "006", status: "failed" },
            other: { status: "running" },
        });
    });

    it("describes the state one line per object in a switch's order: Deployments, Jobs, Services", () => {
        assert.deepStrictEqual(describeClusterState(state), [
            "Deployment physioflow-api-blue: r/physioflow-api:v1, 0/0 ready",
            "Deployment physioflow-api-green: r/physioflow-api:v2, 1/2 ready",
            "Job other: running",
            "Job physioflow-smoke-blue (v1, migration 006): failed",
            "Job physioflow-smoke-green (v2, migration 006): succeeded",
            "Service physioflow-api -> green (2 ready: blue, green)",
            "Service physioflow-api-preview -> blue (no ready endpoints)",
        ]);
    });
});

describe("the live color read back from the live Services' selectors", () => {
    const selecting = (api: string | undefined, web?: string): ClusterState => ({
        deployments: {},
        jobs: {},
        services: {
            ...(api === undefined ? {} : { "physioflow-api": { selector: { app: "physioflow-api", version: api }, readyPods: [], readyColors: [] } }),
            ...(web === undefined ? {} : { "physioflow-web": { selector: { app: "physioflow-web", version: web }, readyPods: [], readyColors: [] } }),
        },
    });

    it("the color both select; mixed when they differ; unknown, and why, when one is missing or selects no color", () => {
        assert.deepStrictEqual(liveColorOf(selecting("green", "green")), { color: "green" });
        assert.deepStrictEqual(liveColorOf(selecting("green", "blue")), { color: "mixed", selectors: { "physioflow-api": "green", "physioflow-web": "blue" } });
        assert.deepStrictEqual(liveColorOf(selecting("green")), { color: "unknown", reason: "Service physioflow-web not found" });
        assert.deepStrictEqual(liveColorOf(selecting("green", "red")), {
            color: "unknown",
            reason: 'Service physioflow-web selects {"app":"physioflow-web","version":"red"}',
        });
    });

    it("says it in one phrase", () => {
        assert.strictEqual(describeLive({ color: "blue" }), "blue is live");
        assert.strictEqual(
            describeLive({ color: "mixed", selectors: { "physioflow-api": "green", "physioflow-web": "blue" } }),
            "live color mixed (physioflow-api selects green, physioflow-web selects blue)",
        );
        assert.strictEqual(
            describeLive({ color: "unknown", reason: "kubectl get services: connection refused" }),
            "live color unknown (kubectl get services: connection refused)",
        );
    });
});
