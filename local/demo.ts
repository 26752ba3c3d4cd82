/**
 * `npm run demo`: a whole release cycle on a control plane and PostgreSQL of its own, in a temp
 * folder (nothing of yours is touched): a first deploy; a release of v1.1.0 with a demo migration
 * through `physioflow deploy` (lint, backup, migrate, warm release behind its smoke test with the
 * live color smoke-tested again against the new schema, switch, watch, finish); an emergency
 * rollback to v1.0.0 (its cold color brought up through the API, timed); a release of v1.2.0 whose pods break during the watch (a kwok Stage),
 * rolled back by itself. A thin driver: every step is the code `npm run local` and `physioflow deploy` run.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../release/deploy";
import { rollback } from "../release/rollback";
import { formatStatus, readStatus } from "../release/status";
import { neverReadyStage } from "../devenv/clusterFaults";
import { openLocalReleaseTarget } from "./releaseTarget";
import { runLocal } from "./run";

export interface DemoOptions {
    /** Seconds to watch after each switch. Default 10. */
    watchSeconds?: number;
    out: (line: string) => void;
}

/** Runs the demo in a temp folder, deleted at the end. Throws when a step does not end as the demo expects. */
export async function runDemo(repoRoot: string, options: DemoOptions): Promise<void> {
    const out = options.out;
    const watch = { seconds: options.watchSeconds ?? 10, intervalMs: 500 };
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-demo-"));
    fs.chmodSync(root, 0o755); // as root, PostgreSQL runs as `postgres` and must reach .local/postgres
    const migrations = path.join(root, "migrations");
    fs.mkdirSync(path.join(migrations, "rollback"), { recursive: true });
    // Copies: the runner reads regular files only.
    const link = (dir: string, rel: string) => fs.copyFileSync(path.join(dir, rel), path.join(migrations, rel));
    const product = path.join(repoRoot, "migrations");
    for (const file of fs.readdirSync(product).filter(f => f.endsWith(".sql"))) link(product, file);
    for (const file of fs.readdirSync(path.join(product, "rollback"))) link(product, path.join("rollback", file));
    const heading = (text: string) => {
        out("");
        out(`=== ${text}`);
    };
    const timed = async <T>(what: string, action: () => Promise<T>) => {
        const started = Date.now();
        const result = await action();
        out(`--- ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return result;
    };
    try {
        heading("1/4 first deploy (npm run local): migrations 001-006 after a backup, blue live with v1.0.0");
        await timed("first deploy", () => runLocal(root, [], line => out(`  ${line}`)));

        // The release brings a migration (additive, kept out of the product's migrations/).
        const demo = path.join(repoRoot, "demo", "migrations");
        link(demo, "007_demo_patient_release_note.sql");
        link(demo, path.join("rollback", "007_down.sql"));
        const opened = await openLocalReleaseTarget(root, line => out(`  ${line}`));
        try {
            const { target } = opened;
            heading(
                "2/4 physioflow deploy local v1.1.0 with a demo migration (007): lint, backup, migrate, release warm behind the smoke test " +
                    "(the live color smoke-tested again at 007), switch, watch, finish",
            );
            const good = await timed("deploy v1.1.0", () => deploy(target, "v1.1.0", { watch, out: line => out(`  ${line}`) }));
            if (!good.ok) throw new Error(`the demo's good release failed: ${good.error ?? good.rolledBack?.reason}`);
            if (good.migrations?.to !== "007") throw new Error(`the demo's release did not migrate to 007 (${JSON.stringify(good.migrations)})`);

            heading(
                "3/4 physioflow rollback local --emergency: back to v1.0.0, blue scaled and smoke-tested and the Services patched through the API, " +
                    "then the stack reconciled",
            );
            const emergency = await timed("emergency rollback", () => rollback(target, { emergency: true, out: line => out(`  ${line}`) }));
            if (!emergency.ok) throw new Error(`the demo's emergency rollback failed: ${emergency.error}`);
            if (emergency.coldStart) {
                const total = emergency.steps.reduce((sum, step) => sum + step.seconds, 0);
                out(
                    `  ${emergency.to} was cold: traffic moved in ${emergency.trafficMs} ms (pods ready in ${emergency.coldStart.readyMs} ms, ` +
                        `smoke test ${emergency.coldStart.smokeMs} ms, patch ${emergency.patchMs} ms); the stack reconciled after, ${total.toFixed(1)} s of steps in all`,
                );
            }

            heading("4/4 physioflow deploy local v1.2.0, and its pods break during the watch: automatic rollback");
            const stage = "demo-breaks-after-switch";
            const bad = await timed("deploy v1.2.0", () =>
                deploy(target, "v1.2.0", {
                    watch,
                    out: line => {
                        out(`  ${line}`);
                        if (!line.startsWith("watch: ")) return;
                        const color = /^watch: (blue|green) /.exec(line)![1];
                        out(`  (demo: a kwok Stage now makes ${color}'s pods unready)`);
                        void target
                            .kubectl(["apply", "-f", "-"], neverReadyStage(stage, target.namespace, { version: color }, ["Running"]))
                            .then(() =>
                                target.kubectl([
                                    "annotate",
                                    "pods",
                                    "-n",
                                    target.namespace,
                                    "-l",
                                    `version=${color},app!=physioflow-smoke`,
                                    "physioflow-demo/broken=true",
                                ]),
                            );
                    },
                }),
            );
            await target.kubectl(["delete", "stage.kwok.x-k8s.io", stage, "--ignore-not-found"]);
            if (bad.ok || !bad.rolledBack) throw new Error("the demo's broken release was not rolled back");
            out(`  rolled back: ${bad.rolledBack.reason}; exit code of physioflow deploy: 1`);

            heading("physioflow status local");
            formatStatus(await readStatus(target)).forEach(line => out(line));
        } finally {
            await opened.close();
        }
    } finally {
        const { resetLocal } = await import("./run");
        await resetLocal(root, () => undefined);
        fs.rmSync(root, { recursive: true, force: true });
    }
}
