/**
 * `npm run demo`: a whole release cycle on a control plane, a real node and a PostgreSQL of its own,
 * in a temp folder (nothing of yours is touched): a first deploy; a release of v1.1.0 with a demo
 * migration through `physioflow deploy` (lint, backup, migrate, warm release behind its smoke test
 * with the live color smoke-tested again against the new schema, switch, watch, finish); an
 * emergency rollback to v1.0.0 (its cold color brought up through the API, timed); a release of
 * v1.2.0 whose pods break during the watch (green's database login refused, so its real /health
 * fails; with kwok, a Stage), rolled back by itself. Each of the last three is measured under load
 * from inside the node: its figures printed, its timeline written as SVG to a folder it names.
 * A thin driver: every step is the code `npm run local` and `physioflow deploy` run.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../release/deploy";
import { rollback } from "../release/rollback";
import { formatStatus, readStatus } from "../release/status";
import { neverReadyStage } from "../devenv/clusterFaults";
import { fileName, measureInNode, writeTimeline } from "../devenv/nodeTraffic";
import { Client } from "pg";
import { loginRole } from "../components/colorCredentials";
import { stackConfigFrom, stackSecret } from "../release/stackConfig";
import { LocalReleaseTarget, openLocalReleaseTarget } from "./releaseTarget";
import { following, liveBefore, runLocal } from "./run";

export interface DemoOptions {
    /** Seconds to watch after each switch. Default 10 (30 for the broken release on a real node: its probes need 15 s to fail it). */
    watchSeconds?: number;
    /** The pods on a real node, each switch measured (default true); false: kwok plays them and nothing is measured. */
    node?: boolean;
    /** Where the switches' timelines (SVG) go; default a new folder `physioflow-demo-timelines-<time>` in the temp dir, kept. */
    timelinesDir?: string;
    out: (line: string) => void;
}

/** Runs the demo in a temp folder, deleted at the end. Throws when a step does not end as the demo expects. */
export async function runDemo(repoRoot: string, options: DemoOptions): Promise<void> {
    const out = options.out;
    const watch = { seconds: options.watchSeconds ?? 10, intervalMs: 500 };
    const withNode = options.node ?? true;
    const timelinesDir =
        options.timelinesDir ?? path.join(os.tmpdir(), `physioflow-demo-timelines-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}`);
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
        await timed("first deploy", () => runLocal(root, [], line => out(`  ${line}`), { node: withNode }));
        if (withNode) out(`(the timelines of the switches below go to ${timelinesDir})`);

        // The release brings a migration (additive, kept out of the product's migrations/).
        const demo = path.join(repoRoot, "demo", "migrations");
        link(demo, "007_demo_patient_release_note.sql");
        link(demo, path.join("rollback", "007_down.sql"));
        const opened = await openLocalReleaseTarget(root, line => out(`  ${line}`));
        try {
            const { target } = opened;
            const measured = withNode ? measuredOn(opened, timelinesDir, out) : <T>(_: string, action: () => Promise<T>) => action();
            heading(
                "2/4 physioflow deploy local v1.1.0 with a demo migration (007): lint, backup, migrate, release warm behind the smoke test " +
                    "(the live color smoke-tested again at 007), switch, watch, finish",
            );
            const good = await timed("deploy v1.1.0", () =>
                measured("deploy v1.1.0 blue→green", () => deploy(target, "v1.1.0", { watch, out: line => out(`  ${line}`) })),
            );
            if (!good.ok) throw new Error(`the demo's good release failed: ${good.error ?? good.rolledBack?.reason}`);
            if (good.migrations?.to !== "007") throw new Error(`the demo's release did not migrate to 007 (${JSON.stringify(good.migrations)})`);

            heading(
                "3/4 physioflow rollback local --emergency: back to v1.0.0, blue scaled and smoke-tested and the Services patched through the API, " +
                    "then the stack reconciled",
            );
            const emergency = await timed("emergency rollback", () =>
                measured("emergency rollback green→blue", () => rollback(target, { emergency: true, out: line => out(`  ${line}`) })),
            );
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
            const breakColor = withNode ? refuseLogin(target) : (color: string) => breakByStage(target, stage, color);
            const bad = await timed("deploy v1.2.0", () =>
                measured("deploy v1.2.0 blue→green broken in the watch", () =>
                    deploy(target, "v1.2.0", {
                        watch: withNode ? { ...watch, seconds: Math.max(watch.seconds, 30) } : watch,
                        out: line => {
                            out(`  ${line}`);
                            if (!line.startsWith("watch: ")) return;
                            const color = /^watch: (blue|green) /.exec(line)![1];
                            void breakColor(color).then(what => out(`  (demo: ${what})`));
                        },
                    }),
                ),
            );
            if (!withNode) await target.kubectl(["delete", "stage.kwok.x-k8s.io", stage, "--ignore-not-found"]);
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

/**
 * Runs a release command measured under load from inside the real node the target started: the
 * figures printed, the timeline written to `dir` (named after the step) and its path printed.
 */
function measuredOn(opened: LocalReleaseTarget, dir: string, out: (line: string) => void) {
    const { target, node } = opened;
    if (node === undefined) throw new Error("the demo's local stack runs its pods on a real node, but none was started for it");
    let step = 1;
    return async <T>(phase: string, action: () => Promise<T>): Promise<T> => {
        step++;
        // The node is new (the target started it): the live pods of the last command come back on it first.
        const live = await liveBefore(target.kubectl, target.namespace, line => out(`  ${line.trim()}`));
        if ("notMeasured" in live) {
            out(`  traffic: not measured: ${live.notMeasured}`);
            return action();
        }
        let result: T | undefined;
        const measured = await measureInNode(node.node, { loadBinary: node.loadBinary, url: live.url, phase }, load =>
            following(target.kubectl, target.namespace, { load }, async () => {
                result = await action();
            }),
        );
        out(`  traffic: ${measured.figures}`);
        out(`  timeline: ${writeTimeline(dir, measured.report, phase, `${step}-${fileName(phase)}`)}`);
        return result!;
    };
}

/** The real node's fault: `color`'s database login refused (its pods log in anew at each /health, so they leave readiness). */
function refuseLogin(target: LocalReleaseTarget["target"]) {
    return async (color: string) => {
        const config = await target.stack.getAllConfig();
        const settings = stackConfigFrom(config);
        const role = loginRole(settings.database.user, color === "blue" ? "blue" : "green");
        const admin = new Client({
            host: settings.database.host,
            port: settings.database.port,
            user: settings.database.adminUser,
            password: stackSecret(config, "dbAdminPassword"),
            database: "postgres",
        });
        await admin.connect();
        try {
            await admin.query(`ALTER ROLE ${admin.escapeIdentifier(role)} NOLOGIN`);
        } finally {
            await admin.end();
        }
        return `${color}'s database login ${role} is now refused (ALTER ROLE … NOLOGIN): its API pods' /health fails, and they leave readiness`;
    };
}

/** kwok's fault: a Stage makes `color`'s pods unready. */
async function breakByStage(target: LocalReleaseTarget["target"], stage: string, color: string): Promise<string> {
    await target.kubectl(["apply", "-f", "-"], neverReadyStage(stage, target.namespace, { version: color }, ["Running"]));
    await target.kubectl(["annotate", "pods", "-n", target.namespace, "-l", `version=${color},app!=physioflow-smoke`, "physioflow-demo/broken=true"]);
    return `a kwok Stage now makes ${color}'s pods unready`;
}
