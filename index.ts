// Wiring only: read the stack's validated config, build the components, export what a person needs.
import * as k8s from "@pulumi/kubernetes";
import * as path from "path";
import {
    apiEnvironment, AppNamespace, BlueGreenApp, loadStackConfig, resolveMigrationTarget, webEnvironment,
} from "./components";

const apiPort = 7011;
const webPort = 3000;

const { settings, secrets } = loadStackConfig();

const provider = new k8s.Provider("k8s", {
    context: settings.kubernetes.context,
    renderYamlToDirectory: settings.kubernetes.renderYamlToDirectory,
});

const namespace = new AppNamespace(settings.namespace, {
    environment: settings.environment,
    secrets: { POSTGRES_PASSWORD: secrets.dbPassword },
    migrationVersion: resolveMigrationTarget(settings.migrationTarget, path.join(__dirname, "migrations")),
}, { provider });

const shared = {
    namespace: namespace.name,
    tags: settings.tags,
    activeColor: settings.activeColor,
    replicas: settings.replicas,
    inactiveReplicas: settings.inactiveReplicas,
    secretName: namespace.secretName,
};

const api = new BlueGreenApp("physioflow-api", {
    ...shared,
    image: `${settings.imageRegistry}/physioflow-api`,
    port: apiPort,
    healthPath: "/health",
    env: apiEnvironment(settings, apiPort),
}, { provider });

const web = new BlueGreenApp("physioflow-web", {
    ...shared,
    image: `${settings.imageRegistry}/physioflow-web`,
    port: webPort,
    healthPath: "/",
    env: webEnvironment(settings, webPort),
    runAsUser: 1001,
}, { provider });

export const environment = settings.environment;
export const namespaceName = namespace.name;
export const activeColor = settings.activeColor;
export const inactiveColor = settings.inactiveColor;
export const tags = settings.tags;
export const replicas = { api: api.replicas, web: web.replicas };
export const services = {
    api: api.liveServiceName,
    apiPreview: api.previewServiceName,
    web: web.liveServiceName,
    webPreview: web.previewServiceName,
};
export const urls = { web: settings.webUrl, api: settings.apiUrl };
export const migrationVersion = namespace.migrationVersion;
