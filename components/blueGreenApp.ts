import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Adoption, adoptOptions } from "./adoption";
import { colorDeploymentSpec, colorLabels, PodPlacement, rolloutWaitFor } from "./colorDeployment";
import { AppSettings } from "./colorSettings";
import { Color, colors, otherColor, replicasByColor } from "./colors";

export interface BlueGreenAppArgs {
    /** Namespace all of the app's objects live in. */
    namespace: pulumi.Input<string>;
    /** Image repository without a tag, e.g. `registry.example.com/physioflow-api`. */
    image: string;
    /** Image tag of each color. */
    tags: Record<Color, pulumi.Input<string>>;
    /** The color the live Service selects. */
    activeColor: Color;
    /** Replicas of the active color; at least 1. */
    replicas: number;
    /** Replicas of the inactive color. Default 0 (scaled down, as the runbook does after a switch). */
    inactiveReplicas?: number;
    /** Container port the app listens on, also the Services' port. */
    port: number;
    /**
     * What each color runs with: environment (delivered through the color's ConfigMap
     * `<name>-config-<color>-<suffix>`), health path, probe thresholds and resources. The live
     * color's are the ones it was released with (components/colorSettings.ts).
     */
    settings: Record<Color, AppSettings>;
    /** Each color's Secret, whose keys are added to the environment (its database login). Default none. */
    secretNames?: Record<Color, pulumi.Input<string>>;
    /** UID (and GID) the container runs as. Default 1000. */
    runAsUser?: number;
    /**
     * What both colors' Deployments wait for (the migration: the new color may need the new schema).
     * A component's own `dependsOn` does not reach its children, so it is passed here. Default none.
     */
    deploymentsDependOn?: pulumi.Resource[];
    /**
     * Seconds a color's pods may take to become ready before its update fails: the Deployments'
     * `progressDeadlineSeconds` and the provider's await. Default 300.
     */
    readinessTimeoutSeconds?: number;
    /**
     * The color the live Service selected before this update (the stack's last `activeColor`), when known.
     * With {@link scaleDownDelaySeconds}: an update that moves the live Service off a color and scales
     * that color to 0 waits that long between the two.
     */
    previousActiveColor?: Color;
    /**
     * Seconds between the live Service leaving a color and that color's scale-down to 0 in the same
     * update (Argo Rollouts' `scaleDownDelaySeconds`): time for every node's kube-proxy to stop sending
     * it new connections. Default 0. Not waited in a preview, nor when the old color stays warm.
     */
    scaleDownDelaySeconds?: number;
    /**
     * The team's objects to adopt as they are, for a stack's first `up` over an app set up by hand
     * (`physioflow import`): each Deployment and Service of this app that it lists is imported with
     * its live spec (components/adoption.ts). Default none.
     */
    adopt?: Adoption;
    /** Where both colors' pods run and their containers' pull policy (the stack's `podNodeLabel`, `imagePullPolicy`). Default: Kubernetes'. */
    pods?: PodPlacement;
}

/** Server-side apply with force: the stack's values win over another field manager's. */
export const patchForceAnnotation = "pulumi.com/patchForce";
/** The provider's readiness conditions for a resource, replacing its built-in await. */
export const waitForAnnotation = "pulumi.com/waitFor";

/**
 * One app as two Deployments, `<name>-blue` and `<name>-green`, behind a live Service `<name>`
 * that selects the active color, a preview Service `<name>-preview` that selects the other, and a
 * Service per color (`<name>-blue`, `<name>-green`) that smoke tests call whatever is live.
 *
 * Built in two steps so a gate that spans apps (the color's smoke test, which waits for every
 * app's Deployment of that color) can stand between the Deployments and the live Service: the
 * constructor declares the active color's Deployment, {@link routeTraffic} the rest.
 *
 * Update order is what makes a switch safe: the active color's Deployment is applied (and awaited
 * ready) before the live Service, which takes its selector from that Deployment; the inactive
 * color is scaled down only after the live Service has left it (and `scaleDownDelaySeconds` later).
 */
export class BlueGreenApp extends pulumi.ComponentResource {
    public readonly activeColor: Color;
    public readonly inactiveColor: Color;
    public readonly replicas: Record<Color, number>;
    /** The active color's Deployment, there from construction (smoke tests wait for it). */
    public readonly activeDeployment: k8s.apps.v1.Deployment;
    // Set by routeTraffic().
    public deployments!: Record<Color, k8s.apps.v1.Deployment>;
    public liveService!: k8s.core.v1.Service;
    public previewService!: k8s.core.v1.Service;
    public readonly colorServices = {} as Record<Color, k8s.core.v1.Service>;
    /** Each color's ConfigMap (its environment). */
    public readonly configMaps = {} as Record<Color, k8s.core.v1.ConfigMap>;
    public liveServiceName!: pulumi.Output<string>;
    public previewServiceName!: pulumi.Output<string>;
    private readonly name: string;
    private readonly port: number;
    private readonly createInactive: (liveService: k8s.core.v1.Service, after?: pulumi.Output<unknown>) => k8s.apps.v1.Deployment;
    /** Waits before the inactive color's scale-down, when this update moves the live Service off it (see {@link BlueGreenAppArgs.scaleDownDelaySeconds}). */
    private readonly scaleDownDelayMs: number;
    private readonly createService: (
        name: string,
        target: k8s.apps.v1.Deployment,
        annotations: Record<string, string>,
        dependsOn?: pulumi.Resource[],
    ) => k8s.core.v1.Service;
    private readonly noAwait: Record<string, string>;
    private readonly pdb: () => unknown;
    private routed = false;

    constructor(name: string, args: BlueGreenAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("physioflow:k8s:BlueGreenApp", name, {}, opts);
        const inactiveReplicas = args.inactiveReplicas ?? 0;
        if (!Number.isInteger(args.replicas) || args.replicas < 1) {
            throw new pulumi.ResourceError(`${name}: replicas is ${args.replicas}; the active color needs at least 1`, this);
        }
        if (!Number.isInteger(inactiveReplicas) || inactiveReplicas < 0) {
            throw new pulumi.ResourceError(`${name}: inactiveReplicas is ${inactiveReplicas}; use 0 or more`, this);
        }
        this.activeColor = args.activeColor;
        this.inactiveColor = otherColor(args.activeColor);
        this.replicas = replicasByColor(args.activeColor, args.replicas, inactiveReplicas);
        const readinessTimeoutSeconds = args.readinessTimeoutSeconds ?? 300;
        // Kubernetes marks the rollout ProgressDeadlineExceeded after this long; the provider's await
        // (which does not stop on that condition) ends 10 s later, so its error carries Kubernetes' reason.
        const awaitTimeout = `${readinessTimeoutSeconds + 10}s`;

        const metadata = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels: { app: name } });
        // A suffix the engine picks: changed settings are a new ConfigMap, created before the old one
        // is deleted, and its new name in the color's pod template rolls that color's pods only.
        for (const color of colors) {
            this.configMaps[color] = new k8s.core.v1.ConfigMap(
                `${name}-config-${color}`,
                {
                    metadata: { namespace: args.namespace, labels: { app: name, version: color } },
                    data: args.settings[color].env,
                },
                { parent: this },
            );
        }

        // The stack decides which color is live and how many pods each has. A hand `kubectl patch` or
        // `kubectl scale` (the runbook's emergency moves) takes those fields over; `pulumi refresh`
        // shows it as drift and the next `up` takes them back instead of failing on a field-manager
        // conflict. To keep a hand switch, set activeColor to match it.
        const owned = { [patchForceAnnotation]: "true" };
        const deployment = (color: Color, dependsOn: pulumi.Resource[], after?: pulumi.Output<unknown>) => {
            const spec = colorDeploymentSpec({
                app: name,
                color,
                image: args.image,
                tag: args.tags[color],
                replicas: this.replicas[color],
                port: args.port,
                healthPath: args.settings[color].healthPath,
                probes: args.settings[color].probes,
                shutdown: args.settings[color].shutdown,
                configMapName: this.configMaps[color].metadata.name,
                secretName: args.secretNames?.[color],
                resources: args.settings[color].resources,
                runAsUser: args.runAsUser ?? 1000,
                readinessTimeoutSeconds,
                pods: args.pods,
            });
            return new k8s.apps.v1.Deployment(
                `${name}-${color}`,
                {
                    metadata: {
                        ...metadata(`${name}-${color}`),
                        labels: { app: name, version: color },
                        annotations: { ...owned, [waitForAnnotation]: rolloutWaitFor(this.replicas[color]) },
                    },
                    // The same spec, sent only once `after` has resolved (the scale-down delay).
                    spec: after === undefined ? spec : after.apply(() => spec),
                },
                {
                    parent: this,
                    dependsOn: [...(args.deploymentsDependOn ?? []), ...dependsOn],
                    customTimeouts: { create: awaitTimeout, update: awaitTimeout },
                    // Adopted with its live pod template: the adopting update restarts no pod.
                    ...adoptOptions(args.adopt, "Deployment", `${name}-${color}`, ["spec"]),
                },
            );
        };

        // An adopted Service's recorded inputs hold the cluster IP Kubernetes gave it (an import records
        // the live object); the stack never sets one, and the provider replaces a Service whose
        // `spec.clusterIP` input goes away, deleting it first: a new IP, and traffic dropped. So the
        // recorded value is kept (a no-op for the Services the stack created). An adopting update's own
        // `ignoreChanges` (the whole `spec`) replaces this one.
        const assignedClusterIp = ["spec.clusterIP", "spec.clusterIPs"];
        const service = (serviceName: string, target: k8s.apps.v1.Deployment, annotations: Record<string, string>, dependsOn: pulumi.Resource[] = []) =>
            new k8s.core.v1.Service(
                serviceName,
                {
                    metadata: { ...metadata(serviceName), annotations: { ...owned, ...annotations } },
                    spec: {
                        type: "ClusterIP",
                        // Taken from the Deployment's own pod labels, so the Service waits for that Deployment.
                        selector: target.spec.template.metadata.labels,
                        ports: [{ name: "http", port: args.port, targetPort: "http" }],
                    },
                },
                { parent: this, dependsOn, ignoreChanges: assignedClusterIp, ...adoptOptions(args.adopt, "Service", serviceName, ["spec"]) },
            );
        // No Service waits for endpoints (the provider's await holds an update 10 s after any endpoint
        // change): a color may have no pods; the live Service moves only after its Deployment is ready
        // and its smoke test passed (dependsOn), and the release commands read its endpoints back.
        const noAwait = { "pulumi.com/skipAwait": "true" };

        this.name = name;
        this.port = args.port;
        for (const color of colors) {
            const colorServiceName = `${name}-${color}`;
            this.colorServices[color] = new k8s.core.v1.Service(
                colorServiceName,
                {
                    metadata: { ...metadata(colorServiceName), annotations: { ...owned, ...noAwait } },
                    spec: { type: "ClusterIP", selector: colorLabels(name, color), ports: [{ name: "http", port: args.port, targetPort: "http" }] },
                },
                { parent: this, ignoreChanges: assignedClusterIp, ...adoptOptions(args.adopt, "Service", colorServiceName, ["spec"]) },
            );
        }
        this.activeDeployment = deployment(this.activeColor, []);
        this.createInactive = (liveService: k8s.core.v1.Service, after?: pulumi.Output<unknown>) => deployment(this.inactiveColor, [liveService], after);
        const leaving = args.previousActiveColor === this.inactiveColor && this.replicas[this.inactiveColor] === 0;
        this.scaleDownDelayMs = leaving ? (args.scaleDownDelaySeconds ?? 0) * 1000 : 0;
        this.createService = service;
        this.noAwait = noAwait;
        this.pdb =
            args.replicas > 1
                ? () =>
                      new k8s.policy.v1.PodDisruptionBudget(
                          name,
                          {
                              metadata: metadata(name),
                              spec: { maxUnavailable: 1, selector: { matchLabels: { app: name } } },
                          },
                          { parent: this, ...adoptOptions(args.adopt, "PodDisruptionBudget", name, ["spec"]) },
                      )
                : () => undefined;
    }

    /**
     * The second half of the app, once the gate exists: the live Service (moved only after the
     * active color's Deployment is ready and every resource of `gate`, the active color's smoke
     * test, has succeeded), then the inactive color's Deployment (scaled down only after the live
     * Service has left it) and the preview Service.
     */
    public routeTraffic(gate: pulumi.Resource[]): this {
        if (this.routed) throw new Error(`${this.name}: routeTraffic called twice`);
        this.routed = true;
        const active = this.activeDeployment;
        this.liveService = this.createService(this.name, active, this.noAwait, gate);
        const inactive = this.createInactive(this.liveService, this.scaleDownDelayMs > 0 ? afterDelay(this.liveService, this.scaleDownDelayMs) : undefined);
        this.previewService = this.createService(`${this.name}-preview`, inactive, this.noAwait);
        this.deployments = { [this.activeColor]: active, [this.inactiveColor]: inactive } as Record<Color, k8s.apps.v1.Deployment>;
        this.pdb();
        this.liveServiceName = this.liveService.metadata.name;
        this.previewServiceName = this.previewService.metadata.name;
        this.registerOutputs({
            activeColor: this.activeColor,
            replicas: this.replicas,
            liveServiceName: this.liveServiceName,
            previewServiceName: this.previewServiceName,
            deploymentNames: Object.fromEntries(colors.map(c => [c, this.deployments[c].metadata.name])),
        });
        return this;
    }

    /** In-cluster base URL of one color's Service, e.g. `http://physioflow-api-green:7011`. */
    public colorUrl(color: Color): string {
        return `http://${this.name}-${color}:${this.port}`;
    }
}

/**
 * Resolves `ms` after `resource`'s create or update has finished (its URN resolves then), in an
 * update; at once in a preview. Fails when the resource does.
 */
function afterDelay(resource: pulumi.CustomResource, ms: number): pulumi.Output<unknown> {
    return resource.urn.apply(async urn => {
        if (!pulumi.runtime.isDryRun()) await new Promise(resolve => setTimeout(resolve, ms));
        return urn;
    });
}
