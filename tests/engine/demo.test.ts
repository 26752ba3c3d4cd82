/** `npm run demo` end to end: the whole release cycle on its own control plane and PostgreSQL. */
import * as assert from "assert";
import * as path from "path";
import { runDemo } from "../../local/demo";
import { testEngine } from "../support/engine";

describe("npm run demo", () => {
    it("first deploy, a release with a migration, an emergency rollback and a broken release rolled back by itself", async function () {
        this.timeout(15 * 60 * 1000);
        await testEngine(); // builds the engine (and the control plane) first when missing
        const lines: string[] = [];
        await runDemo(path.resolve(__dirname, "..", ".."), { watchSeconds: 10, out: line => lines.push(line) });
        const text = lines.join("\n");
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
