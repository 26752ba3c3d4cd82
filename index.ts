// Wiring only: read the stack's validated config, refuse an unsafe step, build the components,
// return what a person needs as the stack's outputs.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import {
    AppDatabase,
    DatabaseRelease,
    describeBackupStore,
    deployApps,
    describeMigrationHold,
    guardReleaseStep,
    heldMigrationVersion,
    loadStackConfig,
    migrationTriggers,
    settingsByColor,
} from "./components";

export = async () => {
    const { settings, secrets } = loadStackConfig();
    // Before any resource: the live color's tag and password are never changed in place.
    const previous = await guardReleaseStep(settings, secrets.credentialDigests);

    const migrationsDir = "migrations";
    const migrationsPath = path.join(__dirname, migrationsDir);
    const db = settings.database;
    // A rollback's update holds the migrations where the last update left them (holdMigrations).
    const migrations = migrationTriggers(migrationsPath, settings.migrationTarget, heldMigrationVersion(previous, settings));
    const hold = describeMigrationHold(migrations, migrationsDir);
    if (hold !== undefined) void pulumi.log.warn(hold);
    const store = describeBackupStore(settings);
    if (!store.stored) void pulumi.log.warn(store.text);

    const database = new AppDatabase(db.name, {
        host: db.host,
        port: db.port,
        adminUser: db.adminUser,
        adminPassword: secrets.dbAdminPassword,
        sslMode: db.sslMode,
        databaseName: db.name,
        user: db.user,
        password: secrets.dbPassword,
        colorPasswords: secrets.colorDbPasswords,
        importExisting: settings.importExisting,
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
        migrationTarget: migrations.target,
        migrationsChecksum: migrations.checksum,
        backupDir: settings.backupDir,
        backupUpload: settings.backupUpload && secrets.backupS3 && { ...settings.backupUpload, ...secrets.backupS3 },
        colorTags: settings.tags,
        activeColor: settings.activeColor,
    });

    const apps = deployApps({
        settings,
        credentials: {
            blue: { user: database.colorUsers.blue, password: secrets.colorDbPasswords.blue },
            green: { user: database.colorUsers.green, password: secrets.colorDbPasswords.green },
        },
        credentialDigests: secrets.credentialDigests,
        // The live color keeps the settings it was released with; a release gives the other the stack's.
        colorSettings: settingsByColor(previous, settings),
        migrationVersion: release.appliedVersion,
        dependsOn: [release],
        previousActiveColor: previous?.activeColor,
    });

    return { ...apps, lastBackup: release.backupArchive };
};
