import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Color } from "./colors";
import { PodPlacement } from "./podPlacement";
import { defaultSmokeTimeoutSeconds, SmokeApp, smokeAppLabel, SmokeCheck, smokeJobSpec } from "./smokeChecks";

export interface SmokeTestArgs {
    namespace: pulumi.Input<string>;
    color: Color;
    /** The color's image tag; a new tag re-runs the test. */
    tag: pulumi.Input<string>;
    /** The database's migration version; a new version re-runs the test (the schema changed under the color). */
    migrationVersion: pulumi.Input<string>;
    /** What else the color runs with (its ConfigMaps' and Secret's names); a change re-runs the test. */
    release: pulumi.Input<string>;
    /** Image with POSIX sh and curl. */
    image: string;
    checks: readonly SmokeCheck[];
    /** Base URL of each app's Service of this color, e.g. `http://physioflow-api-green:7011`. */
    urls: Record<SmokeApp, pulumi.Input<string>>;
    /** This stack's `apiUrl`: the `NEXT_PUBLIC_API_URL` the color's web build must have baked in, or the test fails. */
    webApiUrl: pulumi.Input<string>;
    /** What must be ready before the test runs: the color's Deployments. */
    dependsOn: pulumi.Resource[];
    /** Seconds the Job may run before it counts as failed. Default 120. */
    timeoutSeconds?: number;
    /** Where the Job's pod runs and its pull policy (the stack's `podNodeLabel`, `imagePullPolicy`). Default: Kubernetes'. */
    pods?: PodPlacement;
}

/**
 * One color's smoke test: a Job, `physioflow-smoke-<color>`, that runs the checks against the
 * color's own Services once its Deployments are ready, and refuses a web build whose baked
 * `NEXT_PUBLIC_API_URL` is not this stack's; the provider awaits the Job, so an update
 * fails where the test fails and nothing that depends on it (the live Services, for the active
 * color) moves. The tag, the migration version and the color's settings and login (by the names of
 * their objects) are part of the Job's pod template: a change to any replaces the Job, which runs
 * the test again; otherwise it is not re-run.
 */
export class SmokeTest extends pulumi.ComponentResource {
    public readonly job: k8s.batch.v1.Job;

    constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:k8s:SmokeTest", name, {}, opts);
        const timeoutSeconds = args.timeoutSeconds ?? defaultSmokeTimeoutSeconds;
        const labels = { app: smokeAppLabel, version: args.color };
        const jobName = `physioflow-smoke-${args.color}`;
        this.job = new k8s.batch.v1.Job(
            jobName,
            {
                metadata: { name: jobName, namespace: args.namespace, labels },
                spec: smokeJobSpec({
                    color: args.color,
                    tag: args.tag,
                    migrationVersion: args.migrationVersion,
                    release: args.release,
                    image: args.image,
                    checks: args.checks,
                    urls: args.urls,
                    webApiUrl: args.webApiUrl,
                    timeoutSeconds,
                    pods: args.pods,
                }),
            },
            {
                parent: this,
                dependsOn: args.dependsOn,
                // A fixed name: the old run must go before the new one is created.
                deleteBeforeReplace: true,
                customTimeouts: { create: `${timeoutSeconds + 30}s`, update: `${timeoutSeconds + 30}s` },
            },
        );
        this.registerOutputs({ jobName: this.job.metadata.name });
    }
}
