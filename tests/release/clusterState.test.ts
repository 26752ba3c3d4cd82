import * as assert from "assert";
import {
    ClusterState,
    clusterStateFrom,
    colorReadiness,
    DeploymentState,
    describeClusterState,
    describeLive,
    liveColorOf,
    podsNotScaledDown,
    servesOnly,
} from "../../release/clusterState";
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
            status: { readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1, observedGeneration: 3 },
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
        assert.deepStrictEqual(state.deployments["physioflow-api-green"], {
            image: "r/physioflow-api:v2",
            replicas: 2,
            readyReplicas: 1,
            updatedReplicas: 2,
            availableReplicas: 1,
            observed: true,
        });
        assert.deepStrictEqual(state.deployments["physioflow-api-blue"], {
            image: "r/physioflow-api:v1",
            replicas: 0,
            readyReplicas: 0,
            updatedReplicas: 0,
            availableReplicas: 0,
            observed: false,
        });
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

describe("podsNotScaledDown: a color scaled down is one whose pods have stopped", () => {
    const deployment = (name: string, replicas?: number) => ({
        metadata: { name },
        spec: { ...(replicas === undefined ? {} : { replicas }), template: { spec: { containers: [] } } },
    });
    const colorPod = (name: string, app: string, version: string, stopping = false) => ({
        metadata: { name, labels: { app, version }, ...(stopping ? { deletionTimestamp: "2026-12-07T00:00:00Z" } : {}) },
    });
    const deployments = [deployment("physioflow-api-green", 0), deployment("physioflow-web-green", 1), deployment("physioflow-api-blue", 2)];

    it("none left: no pod above its Deployment's replicas, none stopping; the other color's pods do not count", () => {
        const pods = [colorPod("w-1", "physioflow-web", "green"), colorPod("b-1", "physioflow-api", "blue"), colorPod("b-2", "physioflow-api", "blue", true)];
        assert.deepStrictEqual(podsNotScaledDown({ pods, deployments }, "green"), []);
    });

    it("a pod still stopping holds its app's pods back (it serves the connections it has); so do pods above the replicas, or any without a Deployment", () => {
        const stopping = [colorPod("a-1", "physioflow-api", "green", true)];
        assert.deepStrictEqual(podsNotScaledDown({ pods: stopping, deployments }, "green"), ["a-1"]);
        const tooMany = [colorPod("w-1", "physioflow-web", "green"), colorPod("w-2", "physioflow-web", "green")];
        assert.deepStrictEqual(podsNotScaledDown({ pods: tooMany, deployments }, "green"), ["w-1", "w-2"]);
        const orphan = [colorPod("b-9", "physioflow-web", "blue")];
        assert.deepStrictEqual(podsNotScaledDown({ pods: orphan, deployments }, "blue"), ["b-9"]);
        // A Deployment without spec.replicas wants 1 (Kubernetes' default).
        assert.deepStrictEqual(
            podsNotScaledDown({ pods: [colorPod("u-1", "physioflow-api", "blue")], deployments: [deployment("physioflow-api-blue")] }, "blue"),
            [],
        );
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

describe("colorReadiness: the one definition of a ready color", () => {
    const deployment = (replicas: number, ready: number, more: Partial<DeploymentState> = {}): DeploymentState => ({
        image: "r/x:v",
        replicas,
        readyReplicas: ready,
        updatedReplicas: replicas,
        availableReplicas: ready,
        observed: true,
        ...more,
    });
    const with_ = (deployments: Record<string, DeploymentState>): ClusterState => ({ services: {}, jobs: {}, deployments });

    it("ready: every app's Deployment of the color has its pods ready, rolled out and seen by its controller; per app the counts", () => {
        const state = with_({ "physioflow-api-green": deployment(2, 2), "physioflow-web-green": deployment(2, 3), "physioflow-api-blue": deployment(2, 0) });
        const green = colorReadiness(state, "green");
        assert.strictEqual(green.ready, true);
        assert.strictEqual(green.reason, undefined);
        assert.deepStrictEqual(green.apps[0], {
            app: "physioflow-api",
            deployment: "physioflow-api-green",
            found: true,
            desired: 2,
            expected: 2,
            readyReplicas: 2,
            updatedReplicas: 2,
            availableReplicas: 2,
            observed: true,
            ready: true,
            reason: "physioflow-api-green 2/2 ready",
        });
        assert.deepStrictEqual(
            green.apps.map(app => app.reason),
            ["physioflow-api-green 2/2 ready", "physioflow-web-green 3/2 ready"],
        );
    });

    it("not ready, and why in one line: a Deployment short of pods, missing, scaled to zero, not rolled out, or not seen by its controller", () => {
        const state = with_({
            "physioflow-api-green": deployment(2, 1),
            "physioflow-api-blue": deployment(0, 0),
            "physioflow-web-blue": deployment(0, 0),
        });
        assert.deepStrictEqual(colorReadiness(state, "green"), {
            color: "green",
            ready: false,
            apps: colorReadiness(state, "green").apps,
            reason: "physioflow-api-green 1/2 ready, physioflow-web-green missing",
        });
        const missing = colorReadiness(state, "green").apps[1];
        assert.deepStrictEqual([missing.found, missing.desired, missing.readyReplicas, missing.ready], [false, 0, 0, false]);
        // Scaled to zero: all of its none ready is still not a color to serve from.
        assert.strictEqual(colorReadiness(state, "blue").reason, "physioflow-api-blue 0/0 ready, physioflow-web-blue 0/0 ready");
        const rollingOut = with_({
            "physioflow-api-green": deployment(2, 2, { updatedReplicas: 1 }),
            "physioflow-web-green": deployment(1, 1, { observed: false }),
        });
        assert.strictEqual(
            colorReadiness(rollingOut, "green").reason,
            "physioflow-api-green 2/2 ready (1/2 updated), physioflow-web-green 1/1 ready (its controller has not seen its latest spec)",
        );
        assert.deepStrictEqual(
            colorReadiness(rollingOut, "green").apps.map(app => app.note),
            ["1/2 updated", "its controller has not seen its latest spec"],
        );
    });

    it("with the stack's replicas, each app must have that many ready, whatever its Deployment asks", () => {
        const state = with_({ "physioflow-api-green": deployment(1, 1), "physioflow-web-green": deployment(1, 1) });
        assert.strictEqual(colorReadiness(state, "green").ready, true);
        const asked = colorReadiness(state, "green", 2);
        assert.strictEqual(asked.ready, false);
        assert.strictEqual(asked.reason, "physioflow-api-green 1/2 ready, physioflow-web-green 1/2 ready");
        assert.deepStrictEqual([asked.apps[0].desired, asked.apps[0].expected], [1, 2]);
    });

    it("a Deployment whose spec.replicas is unset wants 1 pod (Kubernetes' default), not 0", () => {
        const unset = {
            metadata: { name: "physioflow-api-green", generation: 1 },
            spec: { template: { spec: { containers: [{ image: "r/physioflow-api:v2" }] } } },
            status: { observedGeneration: 1 },
        };
        const state = clusterStateFrom({
            services: [],
            slices: [],
            pods: [],
            deployments: [unset, { ...unset, metadata: { ...unset.metadata, name: "physioflow-web-green" } }],
        });
        assert.strictEqual(state.deployments["physioflow-api-green"].replicas, 1);
        const green = colorReadiness(state, "green");
        assert.strictEqual(green.ready, false, "no pod is ready: a color that wants none would count as ready");
        assert.strictEqual(green.reason, "physioflow-api-green 0/1 ready, physioflow-web-green 0/1 ready");
    });
});
