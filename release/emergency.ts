/**
 * An emergency rollback's way to a cold color at the API's speed: the color's Deployments scaled
 * through the API to the stack's `replicas`, their pods awaited ready, the stack's smoke test run
 * from a one-off Job built by the same code as the stack's smoke Job (components/smokeChecks.ts
 * `smokeJobSpec`), and, should any of it fail, the color scaled back as it was. No stack update:
 * the caller patches the live Services, then reconciles the stack.
 */
import { appNames } from "../components/appNames";
import { Color } from "../components/colors";
import { apiPort, webPort } from "../components/colorSettings";
import type { StackConfig } from "../components/config";
import { defaultSmokeTimeoutSeconds, SmokeApp, smokeAppLabel, smokeJobSpec } from "../components/smokeChecks";
import { kubectlGet } from "../devenv/kubectl";
import { colorReadiness, describeLive, Kubectl, readClusterState, readLiveColor, waitForJob } from "./clusterState";
import type { ConfigMap, Deployment } from "./kubernetesObjects";
import { recordStep } from "./outcome";
import { readStackConfig } from "./stackConfig";
import { readSmokeFailures } from "./smokeFailures";
import { ReleaseTarget, StepResult } from "./types";

/** The Deployments of a color, by app (the same names as rollback.ts's liveServices). */
const appOf: Record<SmokeApp, string> = appNames;
const portOf: Record<SmokeApp, number> = { api: apiPort, web: webPort };

/** What bringing a cold color up took, in milliseconds from the start of the scale. */
export interface ColdStartTimings {
    /** From the scale until every pod of the color was ready. */
    readyMs: number;
    /** The smoke test's Job, from its creation to its end. */
    smokeMs: number;
}

/** A cold color that could not be brought up; it was scaled back, nothing else changed. */
export class ColdStartError extends Error {
    constructor(
        message: string,
        readonly steps: StepResult[],
    ) {
        super(message);
        this.name = "ColdStartError";
    }
}

/** The name of the one-off smoke Job; the stack's own is `physioflow-smoke-<color>`, so the two never meet. */
export function emergencySmokeJobName(color: Color): string {
    return `physioflow-smoke-${color}-emergency`;
}

/**
 * Scales `color` to the stack's `replicas`, waits for its pods to be ready and runs its smoke
 * test from a one-off Job. Resolves to the steps done, their timings and the Job's deletion
 * (under way: the caller awaits it once traffic has moved); on a
 * failure (pods not ready in the stack's `readinessTimeoutSeconds`, a failed smoke test) the
 * color's Deployments go back to their replicas before and it throws a {@link ColdStartError}
 * whose message is one line: what failed, that the color was scaled back, and the live color as
 * read back after it (`<live> stays live`, or what the live Services select when that is not `live`).
 */
export async function bringUpCold(
    target: ReleaseTarget,
    cold: {
        color: Color;
        /** The live color (named in the messages). */
        live: Color;
        /** The stack's `replicas`. */
        replicas: number;
        /** Each of the color's Deployments' replicas now, by name (`physioflow-api-green`): what a failure scales back to. */
        replicasBefore: Record<string, number>;
    },
    out: (line: string) => void,
): Promise<{ steps: StepResult[]; timings: ColdStartTimings; jobRemoved: Promise<void> }> {
    const { color, live, replicas, replicasBefore } = cold;
    // Read while the pods start: the scale needs none of it.
    const reading = readStackConfig(target.stack);
    reading.catch(() => undefined);
    const names = Object.values(appOf).map(app => `${app}-${color}`);
    const steps: StepResult[] = [];
    const started = Date.now();
    // The step under way, for its record should it fail: its changes so far (the scale, once made).
    let step: { name: "release" | "verify"; started: number; changes: string[] } = { name: "release", started, changes: [] };
    out(`release: ${color} to ${replicas} replicas through the API, its pods ready (${live} stays live)`);
    try {
        await target.kubectl(["scale", ...names.map(name => `deployment/${name}`), "-n", target.namespace, `--replicas=${replicas}`]);
        step.changes = names.map(name => `${name}: replicas ${replicasBefore[name] ?? 0} -> ${replicas} (kubectl scale)`);
        const settings = await reading;
        const unready = await waitForReady(target.kubectl, target.namespace, color, replicas, settings.readinessTimeoutSeconds * 1000);
        if (unready) throw new Error(`${color}'s pods were not ready in ${settings.readinessTimeoutSeconds} s (${unready})`);
        const readyMs = Date.now() - started;
        steps.push(recordStep("release", step.changes, started, { kind: "done", detail: "ready" }));
        out(`  ${names.join(", ")} ready (${readyMs} ms)`);

        step = { name: "verify", started: Date.now(), changes: [] };
        const job = emergencySmokeJobName(color);
        out(`verify: ${color}'s smoke test from Job ${job} (${settings.smoke.checks.length} check(s))`);
        const outcome = await runSmokeJob(target, color, job, settings);
        if (!outcome.ok) throw new Error(`the smoke test of ${color} failed (${outcome.detail})`);
        const smokeMs = Date.now() - step.started;
        steps.push(recordStep("verify", [], step.started, { kind: "done", detail: "passed" }));
        out(`  smoke test passed (${smokeMs} ms)`);
        return { steps, timings: { readyMs, smokeMs }, jobRemoved: outcome.removed };
    } catch (error) {
        const why = `${(error instanceof Error ? error.message : String(error)).split("\n")[0]}; ${await scaleBack(target, names, replicasBefore)}`;
        // Nothing was patched: the live Services' color, read back after the scale back.
        const readBack = await readLiveColor(target.kubectl, target.namespace);
        steps.push(recordStep(step.name, step.changes, step.started, { kind: "failed", error: why, live: readBack }));
        throw new ColdStartError(`${why}; ${readBack.color === live ? `${live} stays live` : describeLive(readBack)}`, steps);
    }
}

/** Each Deployment of `names` back to its replicas before; says so, or what to run when it could not. */
async function scaleBack(target: ReleaseTarget, names: string[], replicasBefore: Record<string, number>): Promise<string> {
    const color = names[0].split("-").pop();
    const counts = [...new Set(names.map(name => replicasBefore[name] ?? 0))];
    const commands = counts.map(count => [
        "scale",
        ...names.filter(name => (replicasBefore[name] ?? 0) === count).map(name => `deployment/${name}`),
        "-n",
        target.namespace,
        `--replicas=${count}`,
    ]);
    try {
        for (const command of commands) await target.kubectl(command);
        return `${color} scaled back to ${counts.join("/")} replicas`;
    } catch (error) {
        const why = (error instanceof Error ? error.message : String(error)).split("\n")[0];
        return `${color} could not be scaled back (${why}): run kubectl ${commands.map(c => c.join(" ")).join(" && kubectl ")}`;
    }
}

/** Polls until `color` is ready with `replicas` pods per app (release/clusterState.ts's `colorReadiness`); resolves to why not at the deadline, else undefined. */
async function waitForReady(kubectl: Kubectl, namespace: string, color: Color, replicas: number, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const readiness = colorReadiness(await readClusterState(kubectl, namespace), color, replicas);
        if (readiness.ready) return undefined;
        if (Date.now() >= deadline) return readiness.reason;
        await new Promise(resolve => setTimeout(resolve, 200));
    }
}

/**
 * The one-off smoke Job of an emergency rollback: the stack's smoke Job spec (the same checks, the
 * same script with its web build check against the stack's `apiUrl`) for what `color` runs now,
 * labelled `physioflow/emergency`, removed by Kubernetes 600 s after it ends should this command be
 * killed before it deletes the Job itself. Pure.
 */
export function emergencySmokeJob(args: {
    namespace: string;
    color: Color;
    name: string;
    settings: StackConfig;
    tag: string;
    migrationVersion: string;
    release: string;
}) {
    const { namespace, color, name, settings } = args;
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name, namespace, labels: { app: smokeAppLabel, version: color, "physioflow/emergency": "true" } },
        spec: {
            ...smokeJobSpec({
                color,
                tag: args.tag,
                migrationVersion: args.migrationVersion,
                release: args.release,
                image: settings.smoke.image,
                checks: settings.smoke.checks,
                urls: Object.fromEntries((Object.keys(appOf) as SmokeApp[]).map(app => [app, `http://${appOf[app]}-${color}:${portOf[app]}`])) as Record<
                    SmokeApp,
                    string
                >,
                // What webEnvironment gives the web build as NEXT_PUBLIC_API_URL, as in the stack's smoke Job.
                webApiUrl: settings.apiUrl,
                timeoutSeconds: defaultSmokeTimeoutSeconds,
                pods: settings.pods,
            }),
            ttlSecondsAfterFinished: 600,
        },
    };
}

/**
 * Runs `color`'s smoke test from the Job `name`, the stack's spec with what the color runs now (its
 * tag from its Deployment, the `migration-version` ConfigMap, its ConfigMaps' and Secret's names).
 * The detail of a failure names the Job and the checks that failed. The Job is deleted on every
 * path; after a pass, while the caller goes on (`removed`: traffic need not wait for it).
 */
async function runSmokeJob(
    target: ReleaseTarget,
    color: Color,
    name: string,
    settings: StackConfig,
): Promise<{ ok: boolean; detail: string; removed: Promise<void> }> {
    const { kubectl, namespace } = target;
    const [deployments, configMap] = await Promise.all([
        Promise.all(Object.values(appOf).map(async app => kubectlGet<Deployment>(kubectl, ["deployment", `${app}-${color}`, "-n", namespace]))),
        kubectlGet<ConfigMap>(kubectl, ["configmap", "migration-version", "-n", namespace]),
    ]);
    const container = (deployment: Deployment) => deployment.spec.template.spec.containers[0];
    const envFrom = deployments.flatMap(d => container(d).envFrom ?? []);
    const release = [
        ...envFrom.filter(source => source.configMapRef).map(source => source.configMapRef!.name),
        ...new Set(envFrom.filter(source => source.secretRef).map(source => source.secretRef!.name)),
    ].join(",");
    const manifest = emergencySmokeJob({
        namespace,
        color,
        name,
        settings,
        tag: String(container(deployments[0]).image).split(":").pop()!,
        migrationVersion: String(configMap.data?.version ?? ""),
        release,
    });
    const timeoutSeconds = manifest.spec.activeDeadlineSeconds;
    const remove = () => kubectl(["delete", "job", name, "-n", namespace, "--ignore-not-found", "--cascade=background"]).then(() => undefined);
    try {
        await kubectl(["create", "-f", "-"], JSON.stringify(manifest)).catch(async error => {
            // A Job left by an emergency rollback that was killed: this run decides afresh.
            if (!/AlreadyExists/.test(String(error))) throw error;
            await kubectl(["delete", "job", name, "-n", namespace, "--wait=true"]);
            await kubectl(["create", "-f", "-"], JSON.stringify(manifest));
        });
        const outcome = await waitForJob(kubectl, namespace, name, (timeoutSeconds + 30) * 1000, 200);
        if (outcome === "succeeded") return { ok: true, detail: `Job ${name}: succeeded`, removed: remove() };
        // Its failed checks, when the node serves the log; the emergency does not wait long for it.
        const log = await kubectl(["logs", `job/${name}`, "-n", namespace, "--request-timeout=5s"]).catch(() => "");
        const logged = log.split("\n").filter(line => /^FAIL /.test(line));
        // Where the node's log is not reachable, the pod's termination message holds the same lines.
        const failures = logged.length ? logged : await readSmokeFailures(kubectl, namespace, name);
        await remove();
        return { ok: false, detail: `Job ${name}: ${outcome}${failures.length ? `: ${failures.join("; ")}` : ""}`, removed: Promise.resolve() };
    } catch (error) {
        await remove().catch(() => undefined);
        throw error;
    }
}
