/**
 * `npm run demo` end to end: the whole release cycle on its own control plane, real node and
 * PostgreSQL, each switch measured under load from inside the node, its timeline written.
 */
import * as assert from "assert";
import { XMLValidator } from "fast-xml-parser";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runDemo } from "../../local/demo";
import { testEngine } from "../support/engine";

describe("npm run demo", () => {
    let timelinesDir: string;
    before(() => (timelinesDir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-demo-test-timelines-"))));
    after(() => fs.rmSync(timelinesDir, { recursive: true, force: true }));

    it("first deploy, a release with a migration, an emergency rollback and a broken release rolled back by itself, on a real node, measured", async function () {
        this.timeout(20 * 60 * 1000);
        await testEngine(); // builds the engine (and the control plane) first when missing
        const lines: string[] = [];
        await runDemo(path.resolve(__dirname, "..", ".."), { watchSeconds: 10, timelinesDir, out: line => lines.push(line) });
        const text = lines.join("\n");
        // The pods are real: on the node, run by containerd.
        assert.match(text, /pods {6}physioflow-api-blue-\S+ +on physioflow-node-0, Ready, containerd:\/\/[0-9a-f]{64}/);
        // Each switch measured from inside the node; the good release drops nothing.
        const figures = lines.filter(line => line.startsWith("  traffic: "));
        process.stderr.write(`      traffic figures:\n${figures.map(f => `      ${f}\n`).join("")}`);
        assert.deepStrictEqual(
            figures.map(line => line.replace(/: [\d,]+ requests, .*$/, "")),
            ["  traffic: deploy v1.1.0 blue→green", "  traffic: emergency rollback green→blue", "  traffic: deploy v1.2.0 blue→green broken in the watch"],
            text,
        );
        assert.match(figures[0], /^ {2}traffic: deploy v1\.1\.0 blue→green: [\d,]+ requests, 0 failed, p99 [\d.]+ ms$/);
        const timelines = lines.filter(line => line.startsWith("  timeline: ")).map(line => line.slice("  timeline: ".length));
        assert.deepStrictEqual(
            timelines.map(file => path.relative(timelinesDir, file)),
            ["2-deploy-v1.1.0-blue-green.svg", "3-emergency-rollback-green-blue.svg", "4-deploy-v1.2.0-blue-green-broken-in-the-watch.svg"],
        );
        for (const file of timelines) assert.strictEqual(XMLValidator.validate(fs.readFileSync(file, "utf8")), true, file);
        assert.match(text, /\(demo: green's database login physioflow_green is now refused/);
        const headings = lines.filter(line => line.startsWith("=== ")).map(line => line.slice(4, 7));
        assert.deepStrictEqual(headings, ["1/4", "2/4", "3/4", "4/4", "phy"], text);
        // The release's own database step: lint, a verified backup, then the migration.
        assert.match(
            text,
            /migrations: database at 006; 1 migration\(s\) pending to 007: 007_demo_patient_release_note\.sql\n.*migrations: ok +\S*007_demo_patient_release_note\.sql/,
        );
        assert.match(
            text,
            /backup: \S+pre-deploy-v1\.1\.0\S* \(verified\), before migrating to 007[\s\S]*migrate: applied \S*007_demo_patient_release_note\.sql/,
        );
        assert.match(text, /v1\.1\.0 to green, warm, behind its smoke test/);
        assert.match(text, /live Services select blue \(\d+ ms\)/);
        // The emergency rollback to the cold blue: through the API, traffic moved before the stack's update.
        assert.match(text, /blue was cold: traffic moved in \d+ ms \(pods ready in \d+ ms, smoke test \d+ ms, patch \d+ ms\); the stack reconciled after/);
        assert.match(text, /rolled back: physioflow-(api|web)-green 0\/1 ready/);
        // The status at the end: blue (v1.0.0) live, nothing flagged but the broken green's readiness is not live traffic.
        const status = lines.slice(lines.findIndex(line => line === "=== physioflow status local") + 1);
        assert.ok(status.includes("  active color   blue in the config"), status.join("\n"));
        assert.deepStrictEqual(
            status.filter(line => line.startsWith("!")),
            [],
            status.join("\n"),
        );
        assert.ok(status.includes("  migration      007 in the database, 007 in ConfigMap migration-version, 007 in the stack output"), status.join("\n"));
    });
});
