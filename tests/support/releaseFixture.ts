/**
 * What the release tests on the real engine share: the worker's control plane
 * (tests/support/sharedCluster.ts), a test stack deployed once in a namespace of its own (blue live
 * with v1.0.0), the team's webhook as a loopback server, and the checks they all make (the live
 * Services' color, no deploy lock left). Call it inside a `describe`.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import { allAppNames } from "../../components/appNames";
import * as path from "path";
import { migrateUp } from "../../database";
import type { ConnectionSettings } from "../../database/connection";
import { freshDatabase } from "./postgres";
import * as http from "http";
import { AddressInfo } from "net";
import { serviceServes, waitForClusterState } from "./clusterWait";
import { ReleaseTarget } from "../../release/types";
import { Cluster } from "../../devenv/cluster";
import { createTestClusterStack, TestClusterStack } from "./engine";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "./sharedCluster";

export const apps = allAppNames;

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

/** A release fixture's stack with a database, as `local`'s: a fresh PostgreSQL database migrated to 006, the repository's migrations copied, backups in a folder of the suite's own. */
export interface DatabaseReleaseFixture {
    /** The fixture's target with the database; the release step backs up and migrates (`migratesOutsideStack`). */
    target: ReleaseTarget;
    migrationsDir: string;
    backupDir: string;
    connection: ConnectionSettings;
}

/** Registers its hooks after {@link releaseFixture}'s (call it just after, inside the same `describe`); filled in by `before`. */
export function databaseReleaseFixture(f: ReleaseFixture, databaseName: string): DatabaseReleaseFixture {
    const d = {} as DatabaseReleaseFixture;
    let work: string | undefined;
    before(async function () {
        this.timeout(4 * 60 * 1000);
        d.connection = (await freshDatabase(databaseName)).connection;
        work = fs.mkdtempSync(path.join(os.tmpdir(), `physioflow-${databaseName}-`));
        d.migrationsDir = path.join(work, "migrations");
        d.backupDir = path.join(work, "backups");
        fs.cpSync(path.join(__dirname, "../../migrations"), d.migrationsDir, { recursive: true });
        await migrateUp({ dir: d.migrationsDir, connection: d.connection });
        // The stack records what the database is at (npm run local does the same).
        await f.s.set({ migrationTarget: "006" });
        await f.s.up();
        d.target = {
            ...f.target,
            database: { connection: d.connection, migrationsDir: d.migrationsDir, backupDir: d.backupDir, environment: "local", migratesOutsideStack: true },
            useMigrationVersion: version => f.s.set({ migrationTarget: version }),
        };
    });
    // The migrations copy and the backups (test data, but patient-shaped) do not outlive the suite.
    after(() => {
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });
    return d;
}
