/**
 * What the release tests on the real engine share: the worker's control plane
 * (tests/support/sharedCluster.ts), a test stack deployed once in a namespace of its own (blue live
 * with v1.0.0), the team's webhook as a loopback server, and the checks they all make (the live
 * Services' color, no deploy lock left). Call it inside a `describe`.
 */
import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { serviceServes, waitForClusterState } from "./clusterWait";
import { ReleaseTarget } from "../../release/deploy";
import { Cluster } from "../../devenv/cluster";
import { createTestClusterStack, TestClusterStack } from "./engine";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "./sharedCluster";

export const apps = ["physioflow-api", "physioflow-web"];

export interface ReleaseFixture {
    /** The stack's namespace, `physioflow-<stack name>`: known when the fixture is made. */
    namespace: string;
    cluster: Cluster;
    s: TestClusterStack;
    target: ReleaseTarget;
    /** The notifications the webhook received in the current test. */
    notifications: any[];
    /** `event from->to` of each notification of the current test. */
    events: () => string[];
    /** Fails when a deploy lock is left in the namespace. */
    noLock: () => Promise<void>;
    /** Waits until both live Services serve `color`'s ready pods only. */
    live: (color: "blue" | "green") => ReturnType<typeof waitForClusterState>;
}

/** Registers the before/after hooks; the returned object is filled in by `before`. */
export function releaseFixture(stackName: string): ReleaseFixture {
    const notifications: any[] = [];
    const webhook = http.createServer((req, res) => {
        let body = "";
        req.on("data", chunk => {
            body += chunk;
        });
        req.on("end", () => {
            notifications.push(JSON.parse(body));
            res.writeHead(200).end();
        });
    });
    const namespace = suiteNamespace(stackName);
    const fixture = {
        namespace,
        notifications,
        events: () => notifications.map(n => `${n.event} ${n.from}->${n.to}`),
        noLock: async () => assert.doesNotMatch(await fixture.cluster.kubectl(["get", "leases", "-n", namespace, "-o", "name"]), /physioflow-deploy/),
        live: (color: "blue" | "green") =>
            waitForClusterState(fixture.cluster.kubectl, namespace, st => apps.every(app => serviceServes(st, app, color, 1)), {
                what: `the live Services on ${color}`,
            }),
    } as ReleaseFixture;
    beforeEach(() => {
        notifications.length = 0;
    });
    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        await new Promise<void>(resolve => webhook.listen(0, "127.0.0.1", resolve));
        fixture.cluster = await sharedCluster();
        fixture.s = await createTestClusterStack(stackName, { kubeconfig: fixture.cluster.kubeconfigPath, namespace });
        await fixture.s.set({ notifyWebhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook` });
        await fixture.s.up(); // a first deploy: blue live with v1.0.0
        fixture.target = { stack: fixture.s.stack, kubectl: fixture.cluster.kubectl, namespace };
    });
    after(async () => {
        webhook.close();
        await fixture.s?.remove();
        await removeSuiteNamespace(fixture.cluster, namespace);
    });
    return fixture;
}
