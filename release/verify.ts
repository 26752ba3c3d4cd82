/**
 * `physioflow verify`: the runbook's post-deployment checks, each a line that passes or fails:
 * the pods are ready, the apps answer through the live (and preview) Services, the database, the
 * `migration-version` ConfigMap and the stack agree on the migration version, and the main tables
 * are there, with their exact row counts. The health checks run inside the cluster, from a
 * one-off Job, as the smoke tests do: the Services are only reachable from there.
 */
import * as crypto from "crypto";
import { Color, otherColor } from "../components/colors";
import { SmokeApp, SmokeCheck, smokeScript, smokeUrlVariable } from "../components/smokeChecks";
import { withClient } from "../database/client";
import { messageOnOneLine } from "../database/errors";
import { currentMigrationVersion } from "../database/migrations/runner";
import { kubectlGet } from "../devenv/kubectl";
import { ClusterState, colorReadiness, readClusterState, waitForJob } from "./clusterState";
import { lastOutputs } from "./stackEngine";
import type { ConfigMap, List, Service } from "./kubernetesObjects";
import { readReleaseSettings } from "./operation";
import { ReleaseSettings, ReleaseTarget } from "./types";
import { readStackConfig } from "./stackConfig";

export interface VerifyCheck {
    name: string;
    ok: boolean;
    /** What was seen, or what failed and what to look at. */
    detail: string;
}

export interface VerifyResult {
    /** True when every check passed. */
    ok: boolean;
    checks: VerifyCheck[];
}

export interface VerifyOptions {
    /** Progress lines for people (the health Job, a failed Job's log). */
    out?: (line: string) => void;
    /** How long the health Job may run before it counts as failed. Default 120. */
    timeoutSeconds?: number;
}

/** The tables migrations 001-005 create; each must exist, and its rows are counted exactly. */
export const mainTables = [
    "therapists",
    "patients",
    "appointments",
    "checklist_templates",
    "visit_checklists",
    "soap_notes",
    "bhyt_insurance_cards",
    "audit_logs",
] as const;

export const verifyComponentLabel = { "app.kubernetes.io/component": "verify" };

const noDatabase = "database: not reachable by this command (no connection settings)";

/** Runs every check against `target`, one after the other; a check that throws fails with the error's message. */
export async function verify(target: ReleaseTarget, options: VerifyOptions = {}): Promise<VerifyResult> {
    const out = options.out ?? (() => undefined);
    const [settings, cluster] = await Promise.all([readReleaseSettings(target.stack), readClusterState(target.kubectl, target.namespace)]);
    const checks: VerifyCheck[] = [];
    const run = async (name: string, check: () => VerifyCheck | Promise<VerifyCheck>) => {
        try {
            checks.push(await check());
        } catch (error) {
            checks.push({ name, ok: false, detail: messageOnOneLine(error) });
        }
    };
    await run("pods ready", () => checkPodsReady(settings, cluster));
    await run("health", () => checkHealth(target, settings.activeColor, cluster, options.timeoutSeconds ?? 120, out));
    await run("migration version", () => checkMigrationVersion(target));
    await run("row counts", () => checkRowCounts(target));
    return { ok: checks.every(check => check.ok), checks };
}

/** One line per check; a failed check's line starts with `!`. Pure. */
export function formatVerify(result: VerifyResult): string[] {
    return result.checks.map(check => `${check.ok ? " " : "!"} ${check.name.padEnd(18)} ${check.detail}`);
}

/**
 * The active color, and the inactive one when it is warm, is ready (release/clusterState.ts's
 * `colorReadiness`: every app's Deployment has all its desired replicas, at least one, ready and
 * rolled out); the detail names each Deployment's count. Pure.
 */
export function checkPodsReady(settings: ReleaseSettings, cluster: ClusterState): VerifyCheck {
    const colors: Color[] = settings.inactiveWarm ? [settings.activeColor, otherColor(settings.activeColor)] : [settings.activeColor];
    const readiness = colors.map(color => colorReadiness(cluster, color));
    return {
        name: "pods ready",
        ok: readiness.every(color => color.ready),
        detail: readiness.flatMap(color => color.apps.map(app => app.reason)).join(", "),
    };
}

/** The containers of the health Job: one per set of Services, each given the base URL of each app. */
export interface HealthTarget {
    name: "live" | "preview";
    urls: Partial<Record<SmokeApp, string>>;
}

/**
 * The health Job: each target's container runs the smoke checks (components/smokeChecks.ts)
 * against its Services. One run decides (the script retries each check itself). Pure.
 */
export function verifyJobManifest(args: {
    name: string;
    namespace: string;
    image: string;
    checks: readonly SmokeCheck[];
    targets: HealthTarget[];
    timeoutSeconds: number;
}) {
    const labels = { app: "physioflow-verify", ...verifyComponentLabel };
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: args.name, namespace: args.namespace, labels },
        spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: args.timeoutSeconds,
            // Removed by Kubernetes should this command be killed before it deletes the Job itself.
            ttlSecondsAfterFinished: 600,
            template: {
                metadata: { labels },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                    containers: args.targets.map(target => ({
                        name: target.name,
                        image: args.image,
                        command: ["/bin/sh", "-c", smokeScript(args.checks)],
                        env: Object.entries(target.urls).map(([app, url]) => ({ name: smokeUrlVariable(app as SmokeApp), value: url })),
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ["ALL"] } },
                    })),
                },
            },
        },
    };
}

/**
 * The stack's smoke checks through the live Services, and through the preview Services when the
 * inactive color has pods, from a Job in the namespace; the Job is deleted on every path.
 */
async function checkHealth(
    target: ReleaseTarget,
    activeColor: Color,
    cluster: ClusterState,
    timeoutSeconds: number,
    out: (line: string) => void,
): Promise<VerifyCheck> {
    const { image, checks } = await readSmokeSettings(target);
    const apps = [...new Set(checks.map(check => check.app))];
    const inactive = otherColor(activeColor);
    const previewToo = colorReadiness(cluster, inactive).apps.every(app => app.desired > 0);
    const ports = await servicePorts(target);
    const services: string[] = [];
    const targets: HealthTarget[] = (previewToo ? (["live", "preview"] as const) : (["live"] as const)).map(name => ({
        name,
        urls: Object.fromEntries(
            apps.map(app => {
                const service = `physioflow-${app}${name === "preview" ? "-preview" : ""}`;
                if (ports[service] === undefined) throw new Error(`Service ${service} is missing in ${target.namespace}`);
                services.push(service);
                return [app, `http://${service}:${ports[service]}`];
            }),
        ),
    }));
    const name = `physioflow-verify-${crypto.randomBytes(3).toString("hex")}`;
    const manifest = verifyJobManifest({ name, namespace: target.namespace, image, checks, targets, timeoutSeconds });
    out(`health: Job ${name} checks ${services.join(", ")}`);
    try {
        await target.kubectl(["create", "-f", "-"], JSON.stringify(manifest));
        const outcome = await waitForJob(target.kubectl, target.namespace, name, (timeoutSeconds + 30) * 1000);
        if (outcome === "succeeded") return { name: "health", ok: true, detail: `${checks.length} check(s) through ${services.join(", ")}` };
        // The Job is deleted below, so its log is read now.
        const log = await target.kubectl(["logs", `job/${name}`, "-n", target.namespace, "--all-containers", "--prefix"]).then(
            text => text.trim(),
            error => `(its log could not be read: ${messageOnOneLine(error)})`,
        );
        for (const line of log.split("\n")) out(`health: ${line}`);
        const failures = log.split("\n").filter(line => /(^|\s)FAIL /.test(line));
        return {
            name: "health",
            ok: false,
            detail:
                `Job ${name} ${outcome} checking ${services.join(", ")}${failures.length ? `: ${failures.join("; ")}` : ""}; ` +
                `its log (kubectl logs job/${name} -n ${target.namespace} --all-containers) is printed above, read before the Job was deleted`,
        };
    } finally {
        await target.kubectl(["delete", "job", name, "-n", target.namespace, "--ignore-not-found", "--cascade=background"]);
    }
}

async function readSmokeSettings(target: ReleaseTarget): Promise<{ image: string; checks: SmokeCheck[] }> {
    return (await readStackConfig(target.stack)).smoke;
}

/** Each Service's port named `http` (else its first), by Service name. */
async function servicePorts(target: ReleaseTarget): Promise<Record<string, number>> {
    const services = (await kubectlGet<List<Service>>(target.kubectl, ["services", "-n", target.namespace])).items;
    return Object.fromEntries(services.map(s => [s.metadata.name, (s.spec.ports!.find(p => p.name === "http") ?? s.spec.ports![0])?.port]));
}

/** The database's applied version, the `migration-version` ConfigMap and the stack's last output agree. */
async function checkMigrationVersion(target: ReleaseTarget): Promise<VerifyCheck> {
    const [configMap, outputs] = await Promise.all([
        // Not kubectlGet: only kubectl's failure reads as "(missing)", an answer that is not JSON still throws.
        target.kubectl(["get", "configmap", "migration-version", "-n", target.namespace, "-o", "json"]).then(
            text => JSON.parse(text) as ConfigMap,
            () => undefined,
        ),
        lastOutputs(target.stack),
    ]);
    const inConfigMap: string | undefined = configMap?.data?.version;
    const inOutputs = outputs.migrationVersion as string | undefined;
    const others = `ConfigMap migration-version ${inConfigMap ?? "(missing)"}, stack output ${inOutputs ?? "(none)"}`;
    if (target.database === undefined) return { name: "migration version", ok: false, detail: `${noDatabase}; ${others}` };
    const inDatabase = await currentMigrationVersion(target.database.connection);
    return {
        name: "migration version",
        ok: inDatabase === inConfigMap && inDatabase === inOutputs,
        detail: `database ${inDatabase}, ${others}`,
    };
}

/**
 * Exact `count(*)` of each of {@link mainTables} (pg_stat_user_tables' n_live_tup, the runbook's
 * query, is an estimate until the next ANALYZE); a missing table fails the check.
 */
async function checkRowCounts(target: ReleaseTarget): Promise<VerifyCheck> {
    if (target.database === undefined) return { name: "row counts", ok: false, detail: noDatabase };
    return withClient(target.database.connection, "physioflow-verify", async client => {
        const missing = (
            await client.query<{ name: string }>("SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(quote_ident(name)) IS NULL", [mainTables])
        ).rows.map(row => row.name);
        const counts: string[] = [];
        for (const table of mainTables.filter(table => !missing.includes(table))) {
            // The names are the constants above, never input.
            const { rows } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM "${table}"`);
            counts.push(`${table} ${rows[0].count}`);
        }
        return {
            name: "row counts",
            ok: missing.length === 0,
            detail: [...(missing.length ? [`missing: ${missing.join(", ")}`] : []), ...counts].join(", "),
        };
    });
}
