import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiEnvironment, webEnvironment } from "./appEnvironment";
import { AppNamespace, secretName as namespaceSecretName } from "./appNamespace";
import { BlueGreenApp } from "./blueGreenApp";
import { Color } from "./colors";
import { StackConfig } from "./config";
import { SmokeTest } from "./smokeTest";

export const apiPort = 7011;
export const webPort = 3000;

export interface DeployAppsArgs {
    settings: StackConfig;
    /** The apps' database password (a secret), for `physioflow-secrets`. */
    dbPassword: pulumi.Input<string>;
    /** Version recorded in the `migration-version` ConfigMap. */
    migrationVersion: pulumi.Input<string>;
    /** What the Deployments must wait for (the migration): the new color may need the new schema. */
    dependsOn?: pulumi.Resource[];
}

/**
 * The cluster half of the program: the provider, the namespace with its shared objects, and the
 * API and web app in two colors each. Returns the stack outputs a person needs.
 */
export function deployApps(args: DeployAppsArgs) {
    const { settings } = args;
    const provider = new k8s.Provider("k8s", {
        kubeconfig: settings.kubernetes.kubeconfig,
        context: settings.kubernetes.context,
        renderYamlToDirectory: settings.kubernetes.renderYamlToDirectory,
    });

    const namespace = new AppNamespace(settings.namespace, {
        environment: settings.environment,
        secrets: { POSTGRES_PASSWORD: args.dbPassword },
        migrationVersion: args.migrationVersion,
    }, { provider });

    const shared = {
        namespace: namespace.name,
        tags: settings.tags,
        activeColor: settings.activeColor,
        replicas: settings.replicas,
        // Warm: the inactive color runs as many pods as the live one (a release, and the watch after a switch).
        inactiveReplicas: settings.inactiveWarm ? settings.replicas : settings.inactiveReplicas,
        // By name, not by the Secret's output: the provider replaces a changed Secret (delete, then
        // create), and the engine would replace every Deployment that takes a value from it, the
        // live color included. The Deployments still wait for the namespace and its Secret.
        secretName: namespaceSecretName,
        readinessTimeoutSeconds: settings.readinessTimeoutSeconds,
        probes: settings.probes,
    };
    const appOptions = { provider, dependsOn: [...(args.dependsOn ?? []), namespace] };

    const api = new BlueGreenApp("physioflow-api", {
        ...shared,
        image: `${settings.imageRegistry}/physioflow-api`,
        port: apiPort,
        healthPath: settings.apps.api.healthPath,
        resources: settings.apps.api.resources,
        env: apiEnvironment(settings, apiPort),
    }, appOptions);

    const web = new BlueGreenApp("physioflow-web", {
        ...shared,
        image: `${settings.imageRegistry}/physioflow-web`,
        port: webPort,
        healthPath: settings.apps.web.healthPath,
        resources: settings.apps.web.resources,
        env: webEnvironment(settings, webPort),
        runAsUser: 1001,
    }, appOptions);

    // Each color with pods has a smoke test; the active color's gates both apps' live Services, so
    // neither moves to a color whose API or web app fails its checks (and they move together).
    const smokeTest = (color: Color, deployments: k8s.apps.v1.Deployment[]) => new SmokeTest(`physioflow-smoke-${color}`, {
        namespace: namespace.name,
        color,
        tag: settings.tags[color],
        migrationVersion: namespace.migrationVersion,
        image: settings.smoke.image,
        checks: settings.smoke.checks,
        urls: { api: api.colorUrl(color), web: web.colorUrl(color) },
        dependsOn: [...deployments, api.colorServices[color], web.colorServices[color]],
    }, { provider });
    const gate = smokeTest(settings.activeColor, [api.activeDeployment, web.activeDeployment]);
    api.routeTraffic([gate]);
    web.routeTraffic([gate]);
    const inactive = settings.inactiveColor;
    if (api.replicas[inactive] > 0) smokeTest(inactive, [api.deployments[inactive], web.deployments[inactive]]);

    return {
        environment: settings.environment,
        namespaceName: namespace.name,
        activeColor: settings.activeColor,
        inactiveColor: settings.inactiveColor,
        tags: settings.tags,
        replicas: { api: api.replicas, web: web.replicas },
        inactiveWarm: settings.inactiveWarm,
        services: {
            api: api.liveServiceName,
            apiPreview: api.previewServiceName,
            web: web.liveServiceName,
            webPreview: web.previewServiceName,
        },
        urls: { web: settings.webUrl, api: settings.apiUrl },
        migrationVersion: namespace.migrationVersion,
    };
}
