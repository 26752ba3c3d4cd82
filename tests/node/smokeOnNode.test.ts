/**
 * The smoke gate for real (docs/node.md, "Cluster DNS and the smoke Jobs"): `deploy`
 * (release/deploy.ts) on a stack whose apps' pods and smoke Jobs run on the worker's real node.
 * The smoke Job's curl resolves the color's Services by name through the node's CoreDNS and reads
 * the web color's page and chunk; a good release passes it; a release whose web image was built
 * with another stack's `NEXT_PUBLIC_API_URL` (packed here as the team's pipeline would, dev's URL
 * baked in) is refused by it before the switch, and the failure names the baked URL.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { Cluster } from "../../devenv/cluster";
import { RealNode } from "../../devenv/node";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { deploy } from "../../release/deploy";
import { ReleaseTarget } from "../../release/types";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { freshDatabase, TestDatabase } from "../support/postgres";
import { stackFileConfig } from "../support/programRun";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";
import { sharedNode } from "../support/sharedNode";

const stackName = "nodesmoke";
const namespace = suiteNamespace(stackName);
const registry = "registry.local:5000";
/** The tag of a release whose web image was built for dev: its API image is the stand-in as for any tag. */
const devBuildTag = "v1.9.0-devbuild";

/**
 * Packs the API image and a web image built (`web build`, like `next build`) with `webBuildEnv`,
 * both tagged `tag`, as scripts/apps.sh packs the local ones (docs/apps.md, "The images").
 */
function packRelease(apps: StandInApps, dir: string, tag: string, webBuildEnv: Record<string, string>): string[] {
    const run = (binary: string, args: string[], env: Record<string, string> = {}) => {
        const result = spawnSync(binary, args, { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
        assert.strictEqual(result.status, 0, `${path.basename(binary)} ${args.join(" ")}: ${result.stderr}`);
    };
    const site = path.join(dir, "site");
    run(apps.bin.web, ["build", "--out", site], webBuildEnv);
    const api = path.join(dir, "physioflow-api.tar");
    const web = path.join(dir, "physioflow-web.tar");
    run(apps.bin.pack, [
        "--binary",
        apps.bin.api,
        "--user",
        "1000",
        "--port",
        "7011",
        "--env",
        "PORT=7011",
        "--tag",
        `${registry}/physioflow-api:${tag}`,
        "--out",
        api,
    ]);
    run(apps.bin.pack, [
        ...["--binary", apps.bin.web, "--user", "1001", "--port", "3000", "--env", "PORT=3000", "--dir", `${site}:/app/site`],
        ...["--tag", `${registry}/physioflow-web:${tag}`, "--out", web],
    ]);
    return [api, web];
}

describe("the smoke gate on the real node: deploy's smoke Jobs run for real and refuse a web image built for another stack before the switch", function () {
    let cluster: Cluster;
    let node: RealNode;
    let db: TestDatabase;
    let admin: Client;
    let s: TestClusterStack;
    let target: ReleaseTarget;
    let work: string | undefined;
    const dbUser = `nodesmoke_${process.pid}`;
    const devApiUrl = stackFileConfig("dev")["physioflow:apiUrl"];
    const watch = { seconds: 3, intervalMs: 300 };

    /** The pod of the smoke Job `physioflow-smoke-<color>` as it is now (not an earlier Job's of that name). */
    const smokePod = async (color: string) => {
        const job = await cluster.getJson(["job", "-n", namespace, `physioflow-smoke-${color}`]);
        const pods = (await cluster.getJson(["pods", "-n", namespace, "-l", `batch.kubernetes.io/controller-uid=${job.metadata.uid}`])).items as any[];
        assert.strictEqual(pods.length, 1, `pods of Job physioflow-smoke-${color}: ${pods.map(p => p.metadata.name).join(", ")}`);
        return pods[0];
    };
    /** The color each live Service selects. */
    const liveSelectors = async () =>
        Object.fromEntries(
            await Promise.all(
                ["physioflow-api", "physioflow-web"].map(async name => [
                    name,
                    (await cluster.getJson(["service", "-n", namespace, name])).spec.selector.version,
                ]),
            ),
        );
    /** The live API's /version, asked inside the node's namespace through the Service's name's cluster IP. */
    const liveVersion = async () => {
        const ip = (await cluster.getJson(["service", "-n", namespace, "physioflow-api"])).spec.clusterIP;
        const result = await node.exec(["curl", "-sS", "-m", "5", "-f", `http://${ip}:7011/version`]);
        assert.strictEqual(result.status, 0, result.stderr);
        return JSON.parse(result.stdout).version as string;
    };
    /** What the smoke Job's pod ran on and how it ended. */
    const ranOnTheNode = (pod: any) => {
        assert.strictEqual(pod.spec.nodeName, node.name, `${pod.metadata.name} did not run on the real node`);
        const container = pod.status.containerStatuses[0];
        assert.match(container.containerID, /^containerd:\/\/[0-9a-f]{64}$/, "run by containerd, not played by kwok");
        assert.strictEqual(container.image, `${registry}/physioflow-smoke:v1`);
        return {
            phase: pod.status.phase as string,
            exitCode: container.state.terminated?.exitCode as number,
            message: String(container.state.terminated?.message ?? ""),
        };
    };

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        let apps: StandInApps;
        [cluster, node, db, apps] = await Promise.all([sharedCluster(), sharedNode(), freshDatabase("node_smoke"), standInApps()]);
        const [dbHost, dbPort] = (await node.relay(db.connection.port)).split(":");
        s = await createTestClusterStack(stackName, {
            kubeconfig: cluster.kubeconfigPath,
            namespace,
            node: { label: `${node.label.key}=${node.label.value}`, dbHost },
        });
        admin = await db.connect();
        for (const color of ["blue", "green"] as const) await admin.query(`CREATE ROLE ${dbUser}_${color} LOGIN PASSWORD '${s.colorPasswords[color]}'`);
        await s.set({ dbPort, dbName: db.name, dbUser, readinessTimeoutSeconds: "120" });
        // dev's NEXT_PUBLIC_API_URL baked into a web image, as a dev build promoted by mistake would have it.
        assert.match(devApiUrl, /^https?:\/\//);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-nodesmoke-"));
        await node.importImages(packRelease(apps, work, devBuildTag, { NEXT_PUBLIC_API_URL: devApiUrl }));
        await s.up(); // a first deploy: blue live with v1.0.0, behind its smoke Job on the node
        target = { stack: s.stack, kubectl: cluster.kubectl, namespace };
    });
    after(async () => {
        await removeSuiteNamespace(cluster, namespace);
        await s?.remove();
        for (const color of ["blue", "green"]) await admin?.query(`DROP ROLE IF EXISTS ${dbUser}_${color}`);
        await admin?.end();
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    it("a good release: green's smoke Job runs on the real node (containerd), reaches green's Services by name and passes; the switch follows", async function () {
        this.timeout(4 * 60 * 1000);
        const lines: string[] = [];
        const result = await deploy(target, "v1.1.0", { watch, keepWarm: true, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.result}`),
            ["release: done", "switch: done", "watch: no breach", "finish: kept blue warm (--keep-warm)"],
        );
        const green = ranOnTheNode(await smokePod("green"));
        assert.deepStrictEqual([green.phase, green.exitCode], ["Succeeded", 0]);
        assert.deepStrictEqual(await liveSelectors(), { "physioflow-api": "green", "physioflow-web": "green" });
        assert.strictEqual(await liveVersion(), "v1.1.0");
        // The first deploy's gate ran there too.
        const blue = ranOnTheNode(await smokePod("blue"));
        assert.deepStrictEqual([blue.phase, blue.exitCode], ["Succeeded", 0]);
    });

    it("a release whose web image was built with dev's NEXT_PUBLIC_API_URL is refused by its smoke Job before the switch: deploy fails at the release step naming the baked URL, green stays live", async function () {
        this.timeout(4 * 60 * 1000);
        const lines: string[] = [];
        const result = await deploy(target, devBuildTag, { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, false, lines.join("\n"));
        // Stopped at the release step: no switch was tried, and the record says green is still live.
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release"],
        );
        assert.match(result.steps[0].result, /^failed: physioflow-smoke-blue .*; green is live$/);
        assert.match(result.error ?? "", /^release failed: physioflow-smoke-blue /);
        assert.ok(
            result.error!.includes(`physioflow-smoke-blue: FAIL web build: http://physioflow-web-blue:3000/_next/static/chunks/`) &&
                result.error!.includes(`has NEXT_PUBLIC_API_URL=${devApiUrl} baked in, not this stack's http://physioflow.example.test/api`),
            result.error,
        );
        const blue = ranOnTheNode(await smokePod("blue"));
        assert.deepStrictEqual([blue.phase, blue.exitCode], ["Failed", 1]);
        // The API's checks passed on the same run: only the web build was refused.
        assert.match(blue.message, /^ok {3}http:\/\/physioflow-api-blue:7011\/health: 200$/m);
        assert.deepStrictEqual(await liveSelectors(), { "physioflow-api": "green", "physioflow-web": "green" });
        assert.strictEqual(await liveVersion(), "v1.1.0");
    });
});
