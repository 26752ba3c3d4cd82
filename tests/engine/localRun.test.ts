/**
 * `npm run local` end to end (engine, PostgreSQL, control plane, a real node, database API) in a
 * temp copy of the repository layout: a first run deploys and migrates, its pods real ones on the
 * node serving the live API; a second with activeColor=green is the switch, shown as the API
 * server reports it and measured under load from inside the node, with its timeline picture.
 */
import * as assert from "assert";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localPaths, resetLocal, runLocal } from "../../local/run";
import { clusterRunningIn } from "../../devenv/cluster";
import { testEngine } from "../support/engine";
import { openLocalReleaseTarget } from "../../local/releaseTarget";
import { releaseMain } from "../../release/cli";
import { runInProcess } from "../support/cliRun";

const repoRoot = path.resolve(__dirname, "..", "..");

describe("npm run local", function () {
    let root: string;
    before(async function () {
        this.timeout(45 * 60 * 1000);
        await testEngine(); // builds the engine first when it is missing (the cluster too, on the first run)
        root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-local-run-"));
        fs.chmodSync(root, 0o755); // as root the server runs as `postgres`, which must reach .local/postgres
        fs.symlinkSync(path.join(repoRoot, "migrations"), path.join(root, "migrations"));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    const run = async (sets: string[]) => {
        const lines: string[] = [];
        await runLocal(root, sets, line => lines.push(line));
        return lines;
    };
    const section = (lines: string[], heading: string) => {
        const start = lines.findIndex(line => line.startsWith(heading));
        assert.notStrictEqual(start, -1, `no "${heading}" in:\n${lines.join("\n")}`);
        const end = lines.indexOf("", start);
        return lines.slice(start + 1, end === -1 ? undefined : end).map(line => line.trim());
    };

    /** The pods and answers of "5. serving", and that the node was stopped at the end. */
    const assertServedOnNode = (lines: string[], color: string) => {
        const serving = section(lines, "5. serving: the real node physioflow-node-0");
        const pods = serving.filter(line => /^(pods {6})?physioflow-/.test(line)).map(line => line.replace(/^pods +/, ""));
        // Both apps' pods of the live color, on the real node, run by containerd (kwok's pods have no container id).
        assert.deepStrictEqual(
            pods.map(line => line.replace(/-[a-z0-9]+-[a-z0-9]{5} +/, " ").replace(/[0-9a-f]{64}$/, "ID")),
            [`physioflow-api-${color} on physioflow-node-0, Ready, containerd://ID`, `physioflow-web-${color} on physioflow-node-0, Ready, containerd://ID`],
            serving.join("\n"),
        );
        // The live API through its Service, from inside the node: its version, and /health with the color's own database login.
        assert.ok(
            serving.some(line => /^GET +http:\/\/10\.\d+\.\d+\.\d+:7011\/version -> 200 \{"color":"","environment":"local","version":"v1\.0\.0"\}$/.test(line)),
            serving.join("\n"),
        );
        assert.ok(
            serving.some(line => /^http:\/\/10\.\d+\.\d+\.\d+:7011\/health -> 200 \{"database":"ok",.*"status":"ok"\}$/.test(line)),
            serving.join("\n"),
        );
        assert.deepStrictEqual(lines.slice(-3), [
            "node: stopped (its pods' containers, namespaces and cgroups removed; the next run starts a new one)",
            "cluster: stopped (data kept in .local/cluster)",
            "postgres: stopped (data kept in .local/postgres/data)",
        ]);
        return serving;
    };

    it("first run: migrates with a backup first, creates the cluster half on a real node, reports blue live and serving, stops everything", async function () {
        this.timeout(5 * 60 * 1000); // PostgreSQL, the control plane, the node, a backup, migrations and a first deploy (about 35 s alone; 4 min at load 34)
        const lines = await run([]);
        assert.ok(
            lines.some(line =>
                /^node: real node physioflow-node-0 \(kubelet, kube-proxy, containerd; stand-in images imported\) joined, ready in \d+\.\d s; its pods reach PostgreSQL at 10\.250\.0\.1:\d+$/.test(
                    line,
                ),
            ),
            lines.join("\n"),
        );
        assert.ok(lines.includes("config: podNodeLabel (unset) -> physioflow.dev/node=real"), lines.join("\n"));
        assert.ok(lines.includes("config: imagePullPolicy (unset) -> Never"), lines.join("\n"));
        const database = section(lines, "1. database");
        assert.ok(
            database.some(line => /^backup: \.local\/backups\/local_pre-migrate-006_\d{8}_\d{6}\.tar\.gz \(verified\)$/.test(line)),
            database.join("\n"),
        );
        assert.ok(database.indexOf("migrated 000 -> 006") > database.findIndex(line => line.startsWith("backup: .local")));
        const preview = section(lines, "2. preview");
        assert.strictEqual(preview.filter(line => line.startsWith("+ ")).length, 28);
        assert.ok(preview.includes("0 unchanged"));
        const up = section(lines, "3. up");
        assert.match(up[up.length - 1], /^28 created in \d+\.\d s$/);
        // The rollout as the API server reported it, while the update ran.
        assert.ok(
            up.some(line => /^\+\d+\.\ds Deployment physioflow-api-blue: registry\.local:5000\/physioflow-api:v1\.0\.0, 1\/1 ready$/.test(line)),
            up.join("\n"),
        );
        assert.ok(
            up.some(line => /^\+\d+\.\ds Service physioflow-api -> blue \(1 ready: blue\)$/.test(line)),
            up.join("\n"),
        );
        // Blue's smoke test passed before the live Service held blue's pods.
        const smoked = up.findIndex(line => /^\+\d+\.\ds Job physioflow-smoke-blue \(v1\.0\.0, migration 006\): succeeded$/.test(line));
        assert.notStrictEqual(smoked, -1, up.join("\n"));
        assert.ok(smoked <= up.findIndex(line => /Service physioflow-api -> blue \(1 ready: blue\)$/.test(line)), up.join("\n"));
        const state = section(lines, "4. state");
        assert.ok(state.includes("active color  blue (inactive: green)"), state.join("\n"));
        assert.ok(state.includes("services      physioflow-api          selects app=physioflow-api,version=blue; 1 ready endpoint(s): blue"), state.join("\n"));
        assert.ok(state.includes("migration     006 in ConfigMap migration-version; database at 006"), state.join("\n"));
        const serving = assertServedOnNode(lines, "blue");
        assert.ok(serving.includes("traffic   not measured: nothing was live before this update"), serving.join("\n"));
        assert.ok(!fs.existsSync(path.join(localPaths(root).postgresData, "postmaster.pid")), "PostgreSQL is still running");
        assert.ok(!clusterRunningIn(localPaths(root).cluster), "the control plane is still running");
    });

    it("second run with activeColor=green: no migration; selectors and replica counts change, the smoke test moves to green, green live; no request failed", async function () {
        this.timeout(5 * 60 * 1000); // starts PostgreSQL, the control plane and a node again, then a whole switch under load (3 min at load 34)
        const lines = await run(["activeColor=green"]);
        assert.ok(lines.includes("config: activeColor blue -> green"));
        assert.ok(section(lines, "1. database").some(line => line.startsWith("nothing to apply: at 006; no backup needed")));
        assert.deepStrictEqual(
            section(lines, "2. preview").filter(line => !line.startsWith("warning: ")),
            [
                '~ Deployment physioflow-api-blue    update  metadata.annotations["pulumi.com/waitFor"], spec.replicas',
                '~ Deployment physioflow-api-green   update  metadata.annotations["pulumi.com/waitFor"], spec.replicas',
                '~ Deployment physioflow-web-blue    update  metadata.annotations["pulumi.com/waitFor"], spec.replicas',
                '~ Deployment physioflow-web-green   update  metadata.annotations["pulumi.com/waitFor"], spec.replicas',
                "- Job physioflow-smoke-blue         delete",
                "+ Job physioflow-smoke-green        create",
                "~ Service physioflow-api            update  spec.selector.version",
                "~ Service physioflow-api-preview    update  spec.selector.version",
                "~ Service physioflow-web            update  spec.selector.version",
                "~ Service physioflow-web-preview    update  spec.selector.version",
                "- SmokeTest physioflow-smoke-blue   delete",
                "+ SmokeTest physioflow-smoke-green  create",
                "18 unchanged",
            ],
        );
        const up = section(lines, "3. up");
        assert.ok(
            up.some(line => /^\+\d+\.\ds Service physioflow-api -> green \(1 ready: green\)$/.test(line)),
            up.join("\n"),
        );
        const state = section(lines, "4. state");
        assert.ok(
            state.includes("services      physioflow-api          selects app=physioflow-api,version=green; 1 ready endpoint(s): green"),
            state.join("\n"),
        );
        assert.ok(state.includes("deployments   physioflow-api-blue   0/0 ready  registry.local:5000/physioflow-api:v1.0.0"), state.join("\n"));
        // The switch measured by the load generator inside the node: every request answered.
        const figures = up.find(line => line.startsWith("traffic: "));
        process.stderr.write(`      ${figures}\n`);
        const measured = /^traffic: switch blue→green: ([\d,]+) requests, 0 failed, p99 [\d.]+ ms$/.exec(figures ?? "");
        assert.ok(measured, up.join("\n"));
        assert.ok(Number(measured[1].replace(/,/g, "")) > 500, `too few requests to tell: ${figures}`);
        const serving = assertServedOnNode(lines, "green");
        assert.ok(serving.includes(`traffic   ${figures!.slice("traffic: ".length)}`), serving.join("\n"));
        // Its timeline: an SVG file in .local/traffic/, with the live Service's move to green marked.
        const timeline = /^timeline +(\.local\/traffic\/switch-blue-green-\d{8}-\d{6}\.svg)$/.exec(serving.find(line => line.startsWith("timeline")) ?? "");
        assert.ok(timeline, serving.join("\n"));
        const svg = fs.readFileSync(path.join(root, timeline[1]), "utf8");
        assert.strictEqual(XMLValidator.validate(svg), true);
        const texts = JSON.stringify(new XMLParser({ ignoreAttributes: true }).parse(svg));
        assert.match(texts, /switch blue→green/);
        assert.match(texts, /physioflow-api -> green \(1 ready: green\)/);
        assert.ok(!fs.existsSync(path.join(localPaths(root).postgresData, "postmaster.pid")), "PostgreSQL is still running");
        assert.ok(!clusterRunningIn(localPaths(root).cluster), "the control plane is still running");
    });

    it("a second command on local attaches to the control plane, node and PostgreSQL the first one runs, and leaves them to it", async function () {
        this.timeout(4 * 60 * 1000);
        const paths = localPaths(root);
        const firstLines: string[] = [];
        const first = await openLocalReleaseTarget(root, line => firstLines.push(line));
        try {
            const lines: string[] = [];
            assert.ok(
                firstLines.includes("local: real node physioflow-node-0 started (the stack's pods run on it), PostgreSQL relayed into it"),
                firstLines.join("\n"),
            );
            assert.ok(first.node !== undefined);
            const second = await openLocalReleaseTarget(root, line => lines.push(line));
            assert.strictEqual(second.node, undefined, "the second command started a node of its own");
            assert.ok(
                lines.some(line =>
                    /^local: attached to the control plane running in \.local\/cluster and PostgreSQL running on \.local\/postgres\/data \(left to the command that started them\); migration version 006$/.test(
                        line,
                    ),
                ),
                lines.join("\n"),
            );
            await second.close();
            // The first command's servers run on.
            assert.ok(clusterRunningIn(paths.cluster), "the second command stopped the first one's control plane");
            assert.match(await first.target.kubectl(["get", "namespace", first.target.namespace, "-o", "name"]), /^namespace\//);
            assert.ok(fs.existsSync(path.join(paths.postgresData, "postmaster.pid")), "the second command stopped the first one's PostgreSQL");
        } finally {
            await first.close();
        }
        assert.ok(!clusterRunningIn(paths.cluster), "the control plane is still running");
        assert.ok(!fs.existsSync(path.join(paths.postgresData, "postmaster.pid")), "PostgreSQL is still running");
    });

    it("a command on local reads the stack's settings through the program's validation: a bad dbPort is refused in one line, nothing left running", async function () {
        this.timeout(2 * 60 * 1000);
        const paths = localPaths(root);
        const stackFile = path.join(paths.project, "Pulumi.local.yaml");
        const good = fs.readFileSync(stackFile, "utf8");
        assert.match(good, /^ {2}physioflow:dbPort: "?\d+"?$/m);
        fs.writeFileSync(stackFile, good.replace(/^ {2}physioflow:dbPort: .*$/m, '  physioflow:dbPort: "54x2"'));
        try {
            const status = await runInProcess(streams => releaseMain(["status", "local"], root, { ...streams, openLocalTarget: openLocalReleaseTarget }));
            // Before: the port read as Number("54x2"), NaN, handed to the PostgreSQL it starts.
            assert.deepStrictEqual(
                [status.code, status.stdout, status.stderr.split("\n").filter(line => line.startsWith("physioflow: error:"))],
                [1, "", ['physioflow: error: physioflow:dbPort is "54x2"; it must be a whole number from 1 to 65535']],
            );
        } finally {
            fs.writeFileSync(stackFile, good);
        }
        assert.ok(!clusterRunningIn(paths.cluster), "the control plane is still running");
        assert.ok(!fs.existsSync(path.join(paths.postgresData, "postmaster.pid")), "PostgreSQL is still running");
    });

    it("a bad --set is refused with one line before anything runs or is saved", async () => {
        await assert.rejects(run(["activeColor=purple"]), { message: 'physioflow:activeColor is "purple"; allowed values: blue, green' });
        const settingsFile = fs.readFileSync(path.join(localPaths(root).project, "Pulumi.local.yaml"), "utf8");
        assert.match(settingsFile, /physioflow:activeColor: green/);
    });

    it("--reset deletes .local/", async () => {
        const lines: string[] = [];
        await resetLocal(root, line => lines.push(line));
        assert.ok(!fs.existsSync(localPaths(root).root));
        assert.deepStrictEqual(lines, ["deleted .local/ (stack state and config, PostgreSQL data, cluster data, backups)"]);
    });
});
