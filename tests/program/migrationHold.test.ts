/**
 * A rollback never backs up or migrates: its update sets `holdMigrations`, under which the
 * program keeps DatabaseRelease's triggers and commands exactly as the last update recorded them
 * (the version it applied, the hash of the files up to it), whatever new migration file the
 * checkout holds. Without the hold (a deploy's release step) the same checkout moves the target.
 *
 * The repository's newest migration is 006; the last update here applied 005, so 006 plays the
 * new file that arrived in the checkout after that release.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupCommand, latestBackupCommand, migrateCommand, migrateVersionCommand } from "../../components/databaseCommands";
import { migrationsChecksum, newestMigrationVersion } from "../../components/migrationFiles";
import { heldMigrationVersion, parsePreviousRelease } from "../../components/releaseGuard";
import { parseStackConfig } from "../../components/config";
import { plainValues } from "../../components/loadConfig";
import { find, ProgramRun, runProgram, stackConfigWithSecrets, stackFileConfig, warningsOf } from "../support/programRun";

const Command = "command:local:Command";
const commands = ["physioflow_prod-release-backup", "physioflow_prod-release-migrate"];
const repoMigrations = path.resolve(__dirname, "..", "..", "migrations");

/** The prod program as an update after `previous` (its outputs read back through the StackReference). */
function update(settings: Record<string, string>, previous?: ProgramRun): Promise<ProgramRun> {
    return runProgram("prod", stackConfigWithSecrets("prod", settings), {
        previousOutputs: previous?.outputs,
        previousSecretOutputNames: previous === undefined ? [] : ["credentialDigests"],
    });
}

/** A copy of the repository's migrations without the files above `version`: the checkout of that release. */
function checkoutAt(version: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-migration-hold-"));
    fs.cpSync(repoMigrations, dir, { recursive: true });
    for (const sub of [".", "rollback"]) {
        for (const file of fs.readdirSync(path.join(dir, sub))) {
            if (/^\d{3}_.*\.sql$/.test(file) && file.slice(0, 3) > version) fs.rmSync(path.join(dir, sub, file));
        }
    }
    return dir;
}

/**
 * A command's inputs but the backup's `create`: that line records the colors a backup would be
 * taken under (`--colors … --live …`), so a rollback's color flip changes it in place, which runs
 * the read-only `update` command, never a backup. Everything that decides whether anything runs
 * anew (the triggers) or what runs (update, environment) must be as recorded.
 */
function comparable(name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (!name.endsWith("-backup")) return inputs;
    const { create: _create, ...rest } = inputs;
    return rest;
}

describe("a rollback holds the migrations at the stack's applied version (holdMigrations)", () => {
    const released = { activeColor: "green", blueTag: "v1.2.2", greenTag: "v1.3.0", inactiveWarm: "true" };
    const rolledBack = { ...released, activeColor: "blue" };
    let lastRelease: ProgramRun;
    let checkout005: string;
    before(async () => {
        assert.strictEqual(newestMigrationVersion(fs.readdirSync(repoMigrations)), "006", "the test needs a file newer than the applied 005");
        checkout005 = checkoutAt("005");
        // The release that applied 005, as its update recorded it.
        lastRelease = await update({ ...released, migrationTarget: "005" }, await update({ ...released, activeColor: "blue", greenTag: "v1.2.2" }));
        assert.strictEqual(lastRelease.outputs.migrationVersion, "005");
    });
    after(() => fs.rmSync(checkout005, { recursive: true, force: true }));

    it("with a new migration file in the checkout, the backup and migrate commands keep the last release's triggers, commands and environment", async () => {
        const { result: held, warnings } = await warningsOf(() => update({ ...rolledBack, holdMigrations: "true" }, lastRelease));
        for (const name of commands) {
            const recorded = find(lastRelease, Command, name).inputs;
            // The checkout of that release held no file above 005: the triggers are what it recorded.
            assert.deepStrictEqual(recorded.triggers, ["005", migrationsChecksum(checkout005)], name);
            assert.deepStrictEqual(comparable(name, find(held, Command, name).inputs), comparable(name, recorded), `${name}: nothing replaces it or runs anew`);
        }
        const backup = find(held, Command, "physioflow_prod-release-backup").inputs;
        const migrate = find(held, Command, "physioflow_prod-release-migrate").inputs;
        assert.strictEqual(
            backup.create,
            backupCommand({
                cli: "node bin/physioflow.js",
                backupDir: "$HOME/physioflow-backups/prod",
                environment: "prod",
                label: "pre-migrate-005",
                upload: true,
                // What a backup would record: the colors as this update leaves them (a rollback's flip is an in-place update, running only the read-only `ls`).
                colorTags: { blue: "v1.2.2", green: "v1.3.0" },
                activeColor: "blue",
            }),
        );
        assert.strictEqual(backup.update, latestBackupCommand({ backupDir: "$HOME/physioflow-backups/prod", environment: "prod", label: "pre-migrate-005" }));
        assert.strictEqual(migrate.create, migrateCommand("node bin/physioflow.js", "migrations", "005"));
        assert.strictEqual(migrate.update, migrateVersionCommand("node bin/physioflow.js", "migrations"));
        assert.strictEqual(find(held, "kubernetes:core/v1:ConfigMap", "migration-version").inputs.data.version, "005");
        assert.strictEqual(held.outputs.migrationVersion, "005");
        // The preview says what is held and what moves it on.
        assert.deepStrictEqual(
            warnings.filter(line => line.includes("holdMigrations")),
            [
                "warning: [runtime] migrations held at 005, the version the stack's last update applied (physioflow:holdMigrations, set by a rollback): " +
                    "006 in migrations/ is not applied and no backup is taken; the next deploy's release step moves the target on " +
                    "(by hand: pulumi config set holdMigrations false)",
            ],
        );
    });

    it("without the hold, the same checkout moves the target to the new file: the triggers change, so the backup and migration run", async () => {
        for (const settings of [rolledBack, { ...rolledBack, holdMigrations: "false" }]) {
            const { result: moved, warnings } = await warningsOf(() => update(settings, lastRelease));
            for (const name of commands) {
                assert.deepStrictEqual(find(moved, Command, name).inputs.triggers, ["006", migrationsChecksum(repoMigrations)], name);
                assert.notDeepStrictEqual(find(moved, Command, name).inputs.triggers, find(lastRelease, Command, name).inputs.triggers, name);
            }
            assert.strictEqual(
                find(moved, Command, "physioflow_prod-release-migrate").inputs.create,
                migrateCommand("node bin/physioflow.js", "migrations", "006"),
            );
            assert.deepStrictEqual(
                warnings.filter(line => line.includes("holdMigrations")),
                [],
            );
        }
    });

    it("the hold wins over a migrationTarget in the stack file: the checkout's settings never move a held target", async () => {
        const { result: held } = await warningsOf(() => update({ ...rolledBack, holdMigrations: "true", migrationTarget: "006" }, lastRelease));
        for (const name of commands)
            assert.deepStrictEqual(comparable(name, find(held, Command, name).inputs), comparable(name, find(lastRelease, Command, name).inputs), name);
    });

    it("is refused, before any resource, when the stack has no applied version to hold", async () => {
        let registered = -1;
        await assert.rejects(
            async () => {
                registered = (await update({ ...rolledBack, holdMigrations: "true" })).resources.length;
            },
            {
                message:
                    "physioflow:holdMigrations is true but the stack's last update recorded no migrationVersion output to hold; " +
                    "unset it for this update: pulumi config set holdMigrations false",
            },
        );
        assert.strictEqual(registered, -1);
    });

    it("holdMigrations must be true or false", async () => {
        await assert.rejects(update({ ...rolledBack, holdMigrations: "yes" }, lastRelease), {
            message: 'physioflow:holdMigrations is "yes"; allowed values: true, false',
        });
    });
});

describe("the applied version a hold keeps, read from the last update's outputs", () => {
    const outputs = (migrationVersion: unknown) => ({
        activeColor: { value: "blue" },
        tags: { value: { blue: "v1", green: "v1" } },
        migrationVersion: { value: migrationVersion },
    });
    const settings = (hold: boolean) => parseStackConfig({ ...plainValues(stackFileConfig("prod")), holdMigrations: String(hold) });

    it("is the migrationVersion output when it is a version, and is read only under the hold", () => {
        assert.strictEqual(parsePreviousRelease(outputs("007"))!.migrationVersion, "007");
        for (const broken of ["", "7", "0071", "applied 007", 7, null, undefined]) {
            assert.strictEqual(parsePreviousRelease(outputs(broken))!.migrationVersion, undefined, JSON.stringify(broken));
        }
        assert.strictEqual(heldMigrationVersion(parsePreviousRelease(outputs("007")), settings(true)), "007");
        assert.strictEqual(heldMigrationVersion(parsePreviousRelease(outputs("007")), settings(false)), undefined);
        assert.strictEqual(heldMigrationVersion(undefined, settings(false)), undefined);
        assert.throws(() => heldMigrationVersion(parsePreviousRelease(outputs("")), settings(true)), /no migrationVersion output to hold/);
    });
});
