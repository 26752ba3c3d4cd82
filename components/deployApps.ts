import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Adoption } from "./adoption";
import { appNames } from "./appNames";
import { AppNamespace, ColorCredential } from "./appNamespace";
import { BlueGreenApp } from "./blueGreenApp";
import { apiPort, ColorSettings, settingsDigest, stackColorSettings, webPort } from "./colorSettings";
import { Color } from "./colors";
import { StackConfig } from "./config";
import { SmokeTest } from "./smokeTest";
import { StackGuard } from "./stackGuard";

export interface DeployAppsArgs {
    settings: StackConfig;
    /** Each color's database login (its role and password), for the color's Secret. */
    credentials: Record<Color, ColorCredential>;
    /** {@link credentialDigest} of each color's password, kept as a secret output for the next update's check. */
    credentialDigests: Record<Color, string>;
    /** The settings each color runs with (components/colorSettings.ts settingsByColor). */
    colorSettings: Record<Color, ColorSettings>;
    /** Version recorded in the `migration-version` ConfigMap. */
    migrationVersion: pulumi.Input<string>;
    /** What the Deployments must wait for (the migration): the new color may need the new schema. */
    dependsOn?: pulumi.Resource[];
    /** The live color the stack's last update left (its `activeColor` output), for the scale-down delay. */
    previousActiveColor?: Color;
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

    // The team's objects found by `physioflow import`, adopted as they are in its one update.
    const adopt: Adoption | undefined = settings.importObjects.length > 0 ? { namespace: settings.namespace, objects: settings.importObjects } : undefined;
    const namespace = new AppNamespace(
        settings.namespace,
        {
            environment: settings.environment,
            credentials: args.credentials,
            importExisting: settings.importExisting,
            migrationVersion: args.migrationVersion,
            adopt,
        },
        { provider },
    );

    const shared = {
        namespace: namespace.name,
        tags: settings.tags,
        activeColor: settings.activeColor,
        replicas: settings.replicas,
        // Warm: the inactive color runs as many pods as the live one (a release, and the watch after a switch).
        inactiveReplicas: settings.inactiveWarm ? settings.replicas : settings.inactiveReplicas,
        secretNames: namespace.secretNames,
        deploymentsDependOn: args.dependsOn,
        readinessTimeoutSeconds: settings.readinessTimeoutSeconds,
        previousActiveColor: args.previousActiveColor,
        scaleDownDelaySeconds: settings.scaleDownDelaySeconds,
        adopt,
        pods: settings.pods,
    };
    const appOptions = { provider, dependsOn: [...(args.dependsOn ?? []), namespace] };

    const api = new BlueGreenApp(
        appNames.api,
        {
            ...shared,
            image: `${settings.imageRegistry}/physioflow-api`,
            port: apiPort,
            settings: { blue: args.colorSettings.blue.api, green: args.colorSettings.green.api },
        },
        appOptions,
    );

    const web = new BlueGreenApp(
        appNames.web,
        {
            ...shared,
            image: `${settings.imageRegistry}/physioflow-web`,
            port: webPort,
            settings: { blue: args.colorSettings.blue.web, green: args.colorSettings.green.web },
            runAsUser: 1001,
        },
        appOptions,
    );

    // Each color with pods has a smoke test; the active color's gates both apps' live Services, so
    // neither moves to a color whose API or web app fails its checks (and they move together).
    const smokeTest = (color: Color, deployments: k8s.apps.v1.Deployment[]) =>
        new SmokeTest(
            `physioflow-smoke-${color}`,
            {
                namespace: namespace.name,
                color,
                tag: settings.tags[color],
                migrationVersion: namespace.migrationVersion,
                // The color's settings and login by name: new ones are new objects, and re-run the test.
                release: pulumi.interpolate`${api.configMaps[color].metadata.name},${web.configMaps[color].metadata.name},${namespace.secretNames[color]}`,
                image: settings.smoke.image,
                checks: settings.smoke.checks,
                urls: { api: api.colorUrl(color), web: web.colorUrl(color) },
                // What webEnvironment gives the web build as NEXT_PUBLIC_API_URL: a build for another stack fails the test.
                webApiUrl: settings.apiUrl,
                // On the colors' nodes, with their pull policy: the smoke image is where their images are.
                pods: settings.pods,
                dependsOn: [...deployments, api.colorServices[color], web.colorServices[color]],
            },
            { provider },
        );
    // An update that adopts the team's Deployments runs no smoke test: their pods run the team's
    // template, not the stack's (the color Services target the port named `http`, which theirs may
    // not name), and nothing moves in it. The next update rolls them to the stack's template and
    // runs the test before the live Services change.
    const adoptsPods = settings.importObjects.some(object => object.startsWith("Deployment/"));
    const gate = adoptsPods ? [] : [smokeTest(settings.activeColor, [api.activeDeployment, web.activeDeployment])];
    api.routeTraffic(gate);
    web.routeTraffic(gate);
    const inactive = settings.inactiveColor;
    const inactiveTest = api.replicas[inactive] > 0 && !adoptsPods ? [smokeTest(inactive, [api.deployments[inactive], web.deployments[inactive]])] : [];
    // Last: an update whose program did not get here deletes nothing (components/stackGuard.ts).
    new StackGuard([...(args.dependsOn ?? []), provider, namespace, api, web, ...gate, ...inactiveTest]);

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
        // What each color runs with, read by the next update (settings flow like a tag).
        colorSettings: args.colorSettings,
        settingsDigest: settingsDigest(stackColorSettings(settings)),
        credentialDigests: pulumi.secret(args.credentialDigests),
    };
}
