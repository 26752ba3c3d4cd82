// Wiring only: read the stack's validated config, build the components, export what a person needs.
import * as k8s from "@pulumi/kubernetes";
import * as path from "path";
import {
    apiEnvironment, AppDatabase, AppNamespace, BlueGreenApp, DatabaseRelease, loadStackConfig, migrationsChecksum,
    resolveMigrationTarget, webEnvironment,
} from "./components";

const apiPort = 7011;
const webPort = 3000;

const { settings, secrets } = loadStackConfig();

const migrationsDir = "migrations";
const migrationsPath = path.join(__dirname, migrationsDir);
const db = settings.database;

const database = new AppDatabase(db.name, {
    host: db.host,
    port: db.port,
    adminUser: db.adminUser,
    adminPassword: secrets.dbAdminPassword,
    sslMode: db.sslMode,
    databaseName: db.name,
    user: db.user,
    password: secrets.dbPassword,
});

const release = new DatabaseRelease(`${db.name}-release`, {
    environment: settings.environment,
    host: db.host,
    port: db.port,
    database: database.databaseName,
    user: database.user,
    password: secrets.dbPassword,
    sslMode: db.sslMode,
    migrationsDir,
    migrationTarget: resolveMigrationTarget(settings.migrationTarget, migrationsPath),
    migrationsChecksum: migrationsChecksum(migrationsPath),
    backupDir: settings.backupDir,
});

const provider = new k8s.Provider("k8s", {
    context: settings.kubernetes.context,
    renderYamlToDirectory: settings.kubernetes.renderYamlToDirectory,
});

const namespace = new AppNamespace(settings.namespace, {
    environment: settings.environment,
    secrets: { POSTGRES_PASSWORD: secrets.dbPassword },
    migrationVersion: release.appliedVersion,
}, { provider });

const shared = {
    namespace: namespace.name,
    tags: settings.tags,
    activeColor: settings.activeColor,
    replicas: settings.replicas,
    inactiveReplicas: settings.inactiveReplicas,
    secretName: namespace.secretName,
};
// The new color may need the new schema: its pods start only after the migration has applied.
const appOptions = { provider, dependsOn: [release] };

const api = new BlueGreenApp("physioflow-api", {
    ...shared,
    image: `${settings.imageRegistry}/physioflow-api`,
    port: apiPort,
    healthPath: "/health",
    env: apiEnvironment(settings, apiPort),
}, appOptions);

const web = new BlueGreenApp("physioflow-web", {
    ...shared,
    image: `${settings.imageRegistry}/physioflow-web`,
    port: webPort,
    healthPath: "/",
    env: webEnvironment(settings, webPort),
    runAsUser: 1001,
}, appOptions);

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
export const lastBackup = release.backupArchive;
