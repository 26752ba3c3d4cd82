/**
 * The pure parts of `physioflow verify` (release/verify.ts): the lines, the pods check, the health
 * Job's manifest and the list of main tables. The checks against a real cluster and database are
 * in tests/engine/verify.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseSmokeChecks, smokeScript } from "../../components/smokeChecks";
import { ClusterState } from "../../release/clusterState";
import { ReleaseSettings } from "../../release/types";
import { checkPodsReady, formatVerify, mainTables, verifyJobManifest } from "../../release/verify";

const settings = (inactiveWarm: boolean): ReleaseSettings => ({ activeColor: "green", tags: { blue: "v1", green: "v2" }, inactiveWarm, replicas: 2 });
const deployment = (replicas: number, readyReplicas: number) => ({
    image: "r/x:v",
    replicas,
    readyReplicas,
    updatedReplicas: replicas,
    availableReplicas: readyReplicas,
    observed: true,
});
const cluster = (): ClusterState => ({
    services: {},
    jobs: {},
    deployments: {
        "physioflow-api-green": deployment(2, 2),
        "physioflow-web-green": deployment(2, 2),
        "physioflow-api-blue": deployment(2, 1),
        "physioflow-web-blue": deployment(0, 0),
    },
});

describe("physioflow verify, pure parts", () => {
    it("pods ready: the active color only, unless the inactive one is warm; short, scaled-to-zero and missing Deployments fail", () => {
        assert.deepStrictEqual(checkPodsReady(settings(false), cluster()), {
            name: "pods ready",
            ok: true,
            detail: "physioflow-api-green 2/2 ready, physioflow-web-green 2/2 ready",
        });
        assert.deepStrictEqual(checkPodsReady(settings(true), cluster()), {
            name: "pods ready",
            ok: false,
            detail: "physioflow-api-green 2/2 ready, physioflow-web-green 2/2 ready, physioflow-api-blue 1/2 ready, physioflow-web-blue 0/0 ready",
        });
        const state = cluster();
        delete state.deployments["physioflow-web-green"];
        assert.deepStrictEqual(checkPodsReady(settings(false), state), {
            name: "pods ready",
            ok: false,
            detail: "physioflow-api-green 2/2 ready, physioflow-web-green missing",
        });
    });

    it("pods ready: a Deployment with its pods ready but not rolled out to its latest template fails, and says so", () => {
        const state = cluster();
        state.deployments["physioflow-web-green"].updatedReplicas = 1;
        assert.deepStrictEqual(checkPodsReady(settings(false), state), {
            name: "pods ready",
            ok: false,
            detail: "physioflow-api-green 2/2 ready, physioflow-web-green 2/2 ready (1/2 updated)",
        });
    });

    it("lines: one per check, failed ones start with !", () => {
        assert.deepStrictEqual(
            formatVerify({
                ok: false,
                checks: [
                    { name: "pods ready", ok: true, detail: "a" },
                    { name: "row counts", ok: false, detail: "missing: soap_notes" },
                ],
            }),
            ["  pods ready         a", "! row counts         missing: soap_notes"],
        );
    });

    it("the health Job: one container per set of Services running the smoke script, one run, labelled, cleaned up by a TTL", () => {
        const checks = parseSmokeChecks("api:/health=200,web:/=200");
        const job = verifyJobManifest({
            name: "physioflow-verify-abc123",
            namespace: "ns",
            image: "curlimages/curl:8.11.1",
            checks,
            timeoutSeconds: 90,
            targets: [
                { name: "live", urls: { api: "http://physioflow-api:7011", web: "http://physioflow-web:3000" } },
                { name: "preview", urls: { api: "http://physioflow-api-preview:7011", web: "http://physioflow-web-preview:3000" } },
            ],
        });
        assert.deepStrictEqual(job.metadata, {
            name: "physioflow-verify-abc123",
            namespace: "ns",
            labels: { app: "physioflow-verify", "app.kubernetes.io/component": "verify" },
        });
        assert.deepStrictEqual([job.spec.backoffLimit, job.spec.activeDeadlineSeconds, job.spec.ttlSecondsAfterFinished], [0, 90, 600]);
        assert.deepStrictEqual(job.spec.template.metadata.labels, job.metadata.labels);
        assert.deepStrictEqual(
            job.spec.template.spec.containers.map(c => ({ name: c.name, image: c.image, command: c.command, env: c.env })),
            [
                {
                    name: "live",
                    image: "curlimages/curl:8.11.1",
                    command: ["/bin/sh", "-c", smokeScript(checks)],
                    env: [
                        { name: "PHYSIOFLOW_API_URL", value: "http://physioflow-api:7011" },
                        { name: "PHYSIOFLOW_WEB_URL", value: "http://physioflow-web:3000" },
                    ],
                },
                {
                    name: "preview",
                    image: "curlimages/curl:8.11.1",
                    command: ["/bin/sh", "-c", smokeScript(checks)],
                    env: [
                        { name: "PHYSIOFLOW_API_URL", value: "http://physioflow-api-preview:7011" },
                        { name: "PHYSIOFLOW_WEB_URL", value: "http://physioflow-web-preview:3000" },
                    ],
                },
            ],
        );
    });

    it("the main tables are every table the migrations create", () => {
        const dir = path.resolve(__dirname, "..", "..", "migrations");
        const created = fs
            .readdirSync(dir)
            .filter(file => file.endsWith(".sql"))
            .sort()
            .flatMap(file => [...fs.readFileSync(path.join(dir, file), "utf8").matchAll(/^CREATE TABLE (\w+)/gm)].map(match => match[1]));
        assert.deepStrictEqual([...mainTables], created);
    });
});
