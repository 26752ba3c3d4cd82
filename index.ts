// Wiring only: read the stack's validated config, build the components, export what a person needs.
import * as path from "path";
import {
    AppDatabase, DatabaseRelease, deployApps, loadStackConfig, migrationsChecksum, resolveMigrationTarget,
} from "./components";

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
    backupUpload: settings.backupUpload && secrets.backupS3 && { ...settings.backupUpload, ...secrets.backupS3 },
});

const apps = deployApps({
    settings,
    dbPassword: secrets.dbPassword,
    migrationVersion: release.appliedVersion,
    dependsOn: [release],
});

export const {
    environment, namespaceName, activeColor, inactiveColor, tags, replicas, services, urls, migrationVersion,
} = apps;
export const lastBackup = release.backupArchive;
