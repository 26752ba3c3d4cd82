import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Color } from "./colors";
import { nodePlacement, PodPlacement, pullPolicy } from "./podPlacement";

export type { PodPlacement } from "./podPlacement";

type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;

/** What one color's Deployment is made of; everything but `color`, `tag` and `replicas` is shared. */
export interface ColorDeploymentSpecArgs {
    /** App name, also the `app` label and the container name (e.g. `physioflow-api`). */
    app: string;
    color: Color;
    /** Image repository without a tag. */
    image: string;
    tag: pulumi.Input<string>;
    replicas: number;
    port: number;
    /** Path the startup and readiness probes call (it may check the database). */
    healthPath: string;
    /** Probe thresholds (the stack's `startupTimeoutSeconds`, `readinessFailureThreshold`, `livenessFailureThreshold`). */
    probes: { startupTimeoutSeconds: number; readinessFailureThreshold: number; livenessFailureThreshold: number };
    /** How the pods stop (the color's settings); undefined: Kubernetes' defaults (no preStop, 30 s). */
    shutdown?: { preStopSleepSeconds: number; terminationGracePeriodSeconds: number };
    /** ConfigMap whose keys become environment variables. */
    configMapName: pulumi.Input<string>;
    /** Secret whose keys become environment variables, if any. */
    secretName?: pulumi.Input<string>;
    resources: ResourceRequirements;
    /** UID the container runs as; the image must not need root. */
    runAsUser: number;
    /** Seconds a rollout may go without progress before Kubernetes marks it failed (`progressDeadlineSeconds`). */
    readinessTimeoutSeconds: number;
    /** Where the pods run and the containers' pull policy (the stack's `pods`); empty: Kubernetes' defaults. */
    pods?: PodPlacement;
}

/**
 * The provider's `pulumi.com/waitFor` for one color's Deployment: done only when the Deployment
 * controller has seen the latest spec (the provider checks `observedGeneration` first) and every
 * replica is of the new template and ready. The provider's built-in Deployment await can read a
 * stale object and call a 0 -> N scale-up done before any pod exists; the live Service must never
 * move on that, so the conditions are stated here.
 */
export function rolloutWaitFor(replicas: number): string {
    const conditions =
        replicas === 0
            ? ["jsonpath={.spec.replicas}=0"]
            : ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"].map(field => `jsonpath={.status.${field}}=${replicas}`);
    return JSON.stringify(conditions);
}

/** Labels that select one color's pods; the Services select on exactly these. */
export function colorLabels(app: string, color: Color): { app: string; version: Color } {
    return { app, version: color };
}

/**
 * The Deployment spec of one color. Pure: the same arguments always give the same spec, so two
 * runs that differ only in replicas differ only in `replicas`.
 */
export function colorDeploymentSpec(args: ColorDeploymentSpecArgs): k8s.types.input.apps.v1.DeploymentSpec {
    const labels = colorLabels(args.app, args.color);
    const health = { httpGet: { path: args.healthPath, port: args.port }, timeoutSeconds: 3 };
    const startupPeriodSeconds = 5;
    const envFrom: k8s.types.input.core.v1.EnvFromSource[] = [{ configMapRef: { name: args.configMapName } }];
    if (args.secretName !== undefined) envFrom.push({ secretRef: { name: args.secretName } });

    return {
        replicas: args.replicas,
        selector: { matchLabels: labels },
        // Within a color, never go below the desired count while pods are replaced.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        revisionHistoryLimit: 5,
        progressDeadlineSeconds: args.readinessTimeoutSeconds,
        template: {
            metadata: { labels },
            spec: {
                securityContext: {
                    runAsNonRoot: true,
                    runAsUser: args.runAsUser,
                    runAsGroup: args.runAsUser,
                    fsGroup: args.runAsUser,
                    seccompProfile: { type: "RuntimeDefault" },
                },
                ...nodePlacement(args.pods),
                ...(args.shutdown === undefined ? {} : { terminationGracePeriodSeconds: args.shutdown.terminationGracePeriodSeconds }),
                containers: [
                    {
                        name: args.app,
                        image: pulumi.interpolate`${args.image}:${args.tag}`,
                        ...pullPolicy(args.pods),
                        ports: [{ name: "http", containerPort: args.port }],
                        envFrom,
                        // Until the first health check passes, no other probe runs: a slow start is not a restart.
                        startupProbe: {
                            ...health,
                            periodSeconds: startupPeriodSeconds,
                            failureThreshold: Math.ceil(args.probes.startupTimeoutSeconds / startupPeriodSeconds),
                        },
                        // Readiness may depend on the database: a blip takes pods out of their Services, nothing more.
                        readinessProbe: { ...health, periodSeconds: 5, failureThreshold: args.probes.readinessFailureThreshold },
                        // Liveness never does: only a process that stopped accepting connections is restarted.
                        livenessProbe: {
                            tcpSocket: { port: args.port },
                            periodSeconds: 10,
                            timeoutSeconds: 3,
                            failureThreshold: args.probes.livenessFailureThreshold,
                        },
                        // A pod told to stop keeps serving while kube-proxy, on every node, stops sending it new
                        // connections; only then its process gets SIGTERM (docs/traffic.md). The sleep action needs no binary in the image.
                        ...(args.shutdown === undefined || args.shutdown.preStopSleepSeconds === 0
                            ? {}
                            : { lifecycle: { preStop: { sleep: { seconds: args.shutdown.preStopSleepSeconds } } } }),
                        resources: args.resources,
                        securityContext: {
                            allowPrivilegeEscalation: false,
                            privileged: false,
                            capabilities: { drop: ["ALL"] },
                        },
                    },
                ],
            },
        },
    };
}
