/**
 * The backup store in the incident path, on the S3 server the tests run (SeaweedFS) and a real
 * PostgreSQL: `backup list --remote`, `backup fetch`, and `rollback --restore latest|s3://…` resolved
 * to a verified archive on this machine, down to the path handed to the restore; a corrupted
 * download is refused and leaves nothing behind.
 */
import * as assert from "assert";
import type * as auto from "@pulumi/pulumi/automation";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CreatedBackup, createBackup } from "../../database/backup/create";
import { S3Settings, s3SettingsFromEnv } from "../../database/backup/s3";
import { fetchStoredArchive, formatArchiveList, listLocalArchives, listStoredArchives, resolveRestoreArchive } from "../../database/backup/store";
import { verifyBackup } from "../../database/backup/verify";
import { formatBytes } from "../../database/progress";
import { restoreArchiveFromStore } from "../../release/cli";
import { releaseDatabaseFromConfig } from "../../release/releaseDatabase";
import { stackConfigFrom, stackSecret } from "../../release/stackConfig";
import type { ReleaseTarget } from "../../release/types";
import { runBinary, runReleaseCommandOn } from "../support/cliRun";
import { stackConfigWithSecrets } from "../support/programRun";
import { s3BackupFixture } from "../support/s3Backups";

const colors = { colors: { blue: "v1.2.2", green: "v1.3.0" }, live: "blue" as const };
const tags = "blue=v1.2.2,green=v1.3.0 live=blue";

describe("the backup store in the incident path (SeaweedFS and PostgreSQL on loopback)", function () {
    this.timeout(240_000);
    const f = s3BackupFixture("store");
    let root: string;
    let bucket: string;
    let store: S3Settings;
    /** Uploaded with a monthly copy (the month's first), uploaded, and local only, oldest first. */
    let december1: CreatedBackup;
    let december2: CreatedBackup;
    let localOnly: CreatedBackup;
    const s3env = () => ({ ...f.s3.env, S3_BUCKET: bucket });

    before(async () => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-store-"));
        bucket = f.newBucket();
        store = s3SettingsFromEnv({ ...s3env(), S3_MONTHLY_MONTHS: "12" });
        const backup = (iso: string, label: string, upload?: S3Settings) =>
            createBackup({
                connection: f.db.connection,
                outDir: path.join(root, "here"),
                environment: "prod",
                label,
                colors,
                upload,
                now: () => new Date(iso),
            });
        december1 = await backup("2026-12-01T09:00:00Z", "pre-migrate-006", store);
        december2 = await backup("2026-12-02T09:00:00Z", "pre-deploy-v1.3.0", store);
        localOnly = await backup("2026-12-03T09:00:00Z", "manual");
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    const emptyDir = () => fs.mkdtempSync(path.join(root, "fetch-"));
    const sizeOf = (backup: CreatedBackup) => formatBytes(fs.statSync(backup.archivePath).size);

    it("lists this machine's archives and the store's side by side, newest first: where, time, environment, label, migration, tags, size", async () => {
        const archives = [...(await listLocalArchives(path.join(root, "here"), "prod")), ...(await listStoredArchives(store, "prod"))];
        const name = (backup: CreatedBackup) => path.basename(backup.archivePath);
        const rows = formatArchiveList(archives).map(line => line.split(/\s{2,}/));
        assert.deepStrictEqual(rows, [
            ["where", "taken (UTC)", "env", "label", "migration", "tags", "size", "archive"],
            ["local", "2026-12-03 09:00:00", "prod", "manual", "006", tags, sizeOf(localOnly), localOnly.archivePath],
            ["local", "2026-12-02 09:00:00", "prod", "pre-deploy-v1.3.0", "006", tags, sizeOf(december2), december2.archivePath],
            [
                "store",
                "2026-12-02 09:00:00",
                "prod",
                "pre-deploy-v1.3.0",
                "006",
                tags,
                sizeOf(december2),
                `s3://${bucket}/physioflow-backups/${name(december2)}`,
            ],
            ["local", "2026-12-01 09:00:00", "prod", "pre-migrate-006", "006", tags, sizeOf(december1), december1.archivePath],
            ["store", "2026-12-01 09:00:00", "prod", "pre-migrate-006", "006", tags, sizeOf(december1), `s3://${bucket}/physioflow-backups/${name(december1)}`],
            ["monthly", "2026-12-01 09:00:00", "prod", "pre-migrate-006", "006", tags, sizeOf(december1), `s3://${bucket}/monthly/2026-12/${name(december1)}`],
        ]);
        // Another environment's archives are left out; none at all is an empty list.
        assert.deepStrictEqual(await listStoredArchives(store, "dev"), []);

        const run = await runBinary(["backup", "list", "--dir", path.join(root, "here"), "--env", "prod", "--remote"], s3env());
        assert.strictEqual(run.code, 0, run.stderr);
        assert.deepStrictEqual(run.stdout.trimEnd().split("\n"), formatArchiveList(archives));
        const localRun = await runBinary(["backup", "list", "--dir", path.join(root, "here")], {});
        assert.deepStrictEqual(
            localRun.stdout
                .trimEnd()
                .split("\n")
                .map(line => line.split(/\s+/)[0]),
            ["where", "local", "local", "local"],
        );
    });

    it("fetch latest: downloads the store's newest archive of the environment, verified, 0600 in a 0700 folder, byte for byte; a second fetch finds it there", async () => {
        const dir = path.join(emptyDir(), "prod");
        const run = await runBinary(["backup", "fetch", "latest", "--env", "prod", "--dir", dir], s3env());
        assert.strictEqual(run.code, 0, run.stderr);
        const fetched = run.stdout.trim();
        assert.strictEqual(fetched, path.join(dir, path.basename(december2.archivePath)));
        assert.strictEqual(fs.statSync(fetched).mode & 0o777, 0o600);
        assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700);
        assert.ok(fs.readFileSync(fetched).equals(fs.readFileSync(december2.archivePath)));
        assert.match(
            run.stderr,
            /^backup: fetched s3:\/\/.*\/physioflow-backups\/prod_pre-deploy-v1\.3\.0_20261202_090000\.tar\.gz to .* verified: sha256 ok, \d+ TOC entries, migration 006$/m,
        );
        assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(fetched)], "no partial file left");

        const again = await runBinary(["backup", "fetch", `s3://${bucket}/${december2.uploaded!.key}`, "--dir", dir], s3env());
        assert.strictEqual(again.code, 0, again.stderr);
        assert.match(again.stderr, /is already here \(sha256 matches/);
        // By name: the monthly copy is found when the 30-day prefix no longer has it.
        const byName = await runBinary(["backup", "fetch", path.basename(december1.archivePath), "--dir", path.join(dir, "by-name")], s3env());
        assert.strictEqual(byName.code, 0, byName.stderr);
        const missing = await runBinary(["backup", "fetch", "prod_manual_20200101_000000.tar.gz", "--dir", dir], s3env());
        assert.strictEqual(missing.code, 2);
        assert.match(missing.stderr, /^physioflow: error: no archive named prod_manual_20200101_000000\.tar\.gz in s3:\/\//);
    });

    describe("a corrupted download is refused and leaves nothing behind", () => {
        const original = () => fs.readFileSync(december1.archivePath);
        const damaged = (bytes: Buffer) => {
            const copy = Buffer.from(bytes);
            copy[Math.floor(copy.length / 2)] ^= 0xff;
            return copy;
        };
        // Their own bucket: a damaged archive dated after the others would be the main bucket's `latest`.
        let rotten: S3Settings;
        before(async () => {
            rotten = { ...store, bucket: f.newBucket() };
            await f.client.send(new CreateBucketCommand({ Bucket: rotten.bucket }));
        });
        const putObject = async (key: string, body: Buffer, archiveSha256: string) =>
            f.client.send(
                new PutObjectCommand({
                    Bucket: rotten.bucket,
                    Key: key,
                    Body: body,
                    Metadata: { "archive-sha256": archiveSha256, "migration-version": "006", environment: "prod" },
                }),
            );
        const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

        it("bytes that differ from the sha256 the upload recorded", async () => {
            const key = "physioflow-backups/prod_rotten_20261204_090000.tar.gz";
            await putObject(key, damaged(original()), sha256(original()));
            const dir = emptyDir();
            await assert.rejects(
                fetchStoredArchive(rotten, key, dir),
                (error: Error) =>
                    error.message.startsWith(`fetch of s3://${rotten.bucket}/${key} failed, nothing was kept: sha256 of the download is `) &&
                    error.message.endsWith(`but the upload recorded ${sha256(original())}`),
            );
            assert.deepStrictEqual(fs.readdirSync(dir), []);
            await assert.rejects(
                fetchStoredArchive(rotten, "physioflow-backups/prod_gone_20261206_090000.tar.gz", dir),
                /^OperationError: fetch of s3:\/\/.*prod_gone_20261206_090000\.tar\.gz failed, nothing was kept: the store has no such object$/,
            );
            assert.deepStrictEqual(fs.readdirSync(dir), []);
        });

        it("an archive that matches its recorded sha256 but does not verify (a damaged dump inside)", async () => {
            const key = "physioflow-backups/prod_damaged_20261205_090000.tar.gz";
            const bytes = damaged(original());
            await putObject(key, bytes, sha256(bytes));
            const dir = emptyDir();
            await assert.rejects(fetchStoredArchive(rotten, key, dir), (error: Error) => {
                assert.match(
                    error.message,
                    new RegExp(`^fetch of s3://${rotten.bucket}/${key} failed, nothing was kept: ${path.join(dir, path.basename(key))} is damaged`),
                );
                return true;
            });
            assert.deepStrictEqual(fs.readdirSync(dir), []);
            // The CLI says so in one line and exits 1.
            const run = await runBinary(["backup", "fetch", `s3://${rotten.bucket}/${key}`, "--dir", dir], s3env());
            assert.strictEqual(run.code, 1);
            assert.match(run.stderr, /^physioflow: error: fetch of s3:\/\/.* failed, nothing was kept: .* is damaged/);
            assert.deepStrictEqual(fs.readdirSync(dir), []);
        });
    });

    describe("rollback --restore latest | s3://…: the archive handed to the restore", () => {
        const target = (dir: string, backupStore: S3Settings | undefined): ReleaseTarget =>
            ({
                database: {
                    connection: f.db.connection,
                    migrationsDir: "migrations",
                    backupDir: dir,
                    environment: "prod",
                    backupStore,
                    migratesOutsideStack: false,
                },
                namespace: "physioflow-prod",
                // The restore itself is never reached in these tests: the stack and the cluster must not be touched.
                stack: new Proxy({}, { get: () => assert.fail("the stack was touched") }),
                kubectl: () => assert.fail("the cluster was touched"),
            }) as unknown as ReleaseTarget;

        it("latest is the store's newest when this machine has none newer: fetched into backupDir and verified", async () => {
            const dir = emptyDir();
            const lines: string[] = [];
            const { archivePath: archive, ifDamaged } = await restoreArchiveFromStore(target(dir, store), "latest", line => lines.push(line));
            assert.strictEqual(archive, path.join(dir, path.basename(december2.archivePath)));
            // Kept for the restore's verify step: the next newest is another archive (not a copy of this one).
            assert.strictEqual(
                ifDamaged,
                `the next newest backup of prod is s3://${bucket}/${december1.uploaded!.key} (pre-migrate-006, migration 006): rollback --restore s3://${bucket}/${december1.uploaded!.key}`,
            );
            assert.strictEqual((await verifyBackup(archive)).metadata.label, "pre-deploy-v1.3.0");
            assert.strictEqual(lines[0], `backup: the latest backup of prod is s3://${bucket}/${december2.uploaded!.key} (pre-deploy-v1.3.0, migration 006)`);
            assert.strictEqual(lines[lines.length - 1], `restore: ${archive}`);
        });

        it("latest is this machine's newest when it is newer than the store's, used where it is; without a store, only this machine's", async () => {
            const dir = path.join(root, "here");
            const before = fs.readdirSync(dir).sort();
            const withStore = await restoreArchiveFromStore(target(dir, store), "latest", () => undefined);
            assert.strictEqual(withStore.archivePath, localOnly.archivePath);
            // Should it not verify, the restore names the next newest: this machine's copy of December 2nd comes first.
            assert.strictEqual(
                withStore.ifDamaged,
                `the next newest backup of prod is ${december2.archivePath} (pre-deploy-v1.3.0, migration 006): rollback --restore ${december2.archivePath}`,
            );
            assert.strictEqual((await restoreArchiveFromStore(target(dir, undefined), "latest", () => undefined)).archivePath, localOnly.archivePath);
            assert.deepStrictEqual(fs.readdirSync(dir).sort(), before, "nothing fetched");
            await assert.rejects(resolveRestoreArchive("latest", { dir: emptyDir(), environment: "staging" }), /^UsageError: no backup of staging in /);
        });

        it("s3://bucket/key is fetched and verified; a store-less stack refuses it", async () => {
            const dir = emptyDir();
            const url = `s3://${bucket}/${december1.uploaded!.monthlyKey!}`;
            const { archivePath: archive, ifDamaged } = await restoreArchiveFromStore(target(dir, store), url, () => undefined);
            assert.strictEqual(archive, path.join(dir, path.basename(december1.archivePath)));
            assert.strictEqual(ifDamaged, undefined, "an archive named by the person: no other is proposed");
            const stored = await f.client.send(new GetObjectCommand({ Bucket: bucket, Key: december1.uploaded!.monthlyKey! }));
            assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(fs.readFileSync(archive)));
            await assert.rejects(
                restoreArchiveFromStore(target(emptyDir(), undefined), url, () => undefined),
                /the stack has no backup store/,
            );
        });

        it("a download that does not verify: the command fails in one line, keeps nothing, and never reaches the restore", async () => {
            const dir = emptyDir();
            const rottenBucket = f.newBucket();
            await f.client.send(new CreateBucketCommand({ Bucket: rottenBucket }));
            const bytes = Buffer.from(fs.readFileSync(december1.archivePath));
            bytes[Math.floor(bytes.length / 2)] ^= 0xff;
            await f.client.send(
                new PutObjectCommand({
                    Bucket: rottenBucket,
                    Key: "physioflow-backups/prod_damaged_20261205_090000.tar.gz",
                    Body: bytes,
                    Metadata: { "archive-sha256": createHash("sha256").update(bytes).digest("hex") },
                }),
            );
            const run = await runReleaseCommandOn(target(dir, store), [
                "rollback",
                "local",
                "--restore",
                `s3://${rottenBucket}/physioflow-backups/prod_damaged_20261205_090000.tar.gz`,
                "--yes",
            ]);
            assert.strictEqual(run.code, 1, run.stderr);
            assert.match(
                run.lines[run.lines.length - 1],
                /^physioflow: error: fetch of s3:\/\/.*prod_damaged_20261205_090000\.tar\.gz failed, nothing was kept: .* is damaged/,
            );
            assert.deepStrictEqual(fs.readdirSync(dir), []);
        });

        it("latest that does not verify: refused in one line naming the next newest archive to restore instead, never restoring it by itself; nothing kept", async () => {
            const dir = emptyDir();
            const rotten = { ...store, bucket: f.newBucket() };
            await f.client.send(new CreateBucketCommand({ Bucket: rotten.bucket }));
            const put = async (key: string, body: Buffer) =>
                f.client.send(
                    new PutObjectCommand({
                        Bucket: rotten.bucket,
                        Key: key,
                        Body: body,
                        Metadata: { "archive-sha256": createHash("sha256").update(body).digest("hex"), "migration-version": "006", environment: "prod" },
                    }),
                );
            const good = `physioflow-backups/${path.basename(december1.archivePath)}`;
            await put(good, fs.readFileSync(december1.archivePath));
            const bytes = Buffer.from(fs.readFileSync(december2.archivePath));
            bytes[Math.floor(bytes.length / 2)] ^= 0xff;
            await put(`physioflow-backups/${path.basename(december2.archivePath)}`, bytes);
            const run = await runReleaseCommandOn(target(dir, rotten), ["rollback", "local", "--restore", "latest", "--yes"]);
            assert.strictEqual(run.code, 1, run.stderr);
            const last = run.lines[run.lines.length - 1];
            assert.match(
                last,
                /^physioflow: error: fetch of s3:\/\/.*prod_pre-deploy-v1\.3\.0_20261202_090000\.tar\.gz failed, nothing was kept: .* is damaged/,
            );
            assert.ok(
                last.endsWith(
                    `; the next newest backup of prod is s3://${rotten.bucket}/${good} (pre-migrate-006, migration 006): rollback --restore s3://${rotten.bucket}/${good}`,
                ),
                last,
            );
            assert.deepStrictEqual(fs.readdirSync(dir), []);
        });

        it("the stack's store, as the release commands read it from the stack's config (its keys are secrets)", () => {
            // What stack.getAllConfig() returns for prod's stack file pointed at the test store, its secrets decrypted.
            const config: auto.ConfigMap = Object.fromEntries(
                Object.entries(
                    stackConfigWithSecrets("prod", {
                        backupS3Endpoint: f.s3.endpoint,
                        backupS3Bucket: bucket,
                        backupS3AccessKeyId: f.s3.accessKeyId,
                        backupS3SecretAccessKey: f.s3.secretAccessKey,
                    }),
                ).map(([key, value]) => [key, { value, secret: /Password$|AccessKeyId$|SecretAccessKey$/.test(key) }]),
            );
            const fromStack = () =>
                releaseDatabaseFromConfig(stackConfigFrom(config), key => stackSecret(config, key), "/repo", { migratesOutsideStack: false });
            const db = fromStack()!;
            assert.deepStrictEqual(db.backupStore, {
                endpoint: f.s3.endpoint,
                bucket,
                accessKeyId: f.s3.accessKeyId,
                secretAccessKey: f.s3.secretAccessKey,
                region: "us-east-1",
                prefix: "physioflow-backups/",
            });
            delete config["physioflow:backupS3SecretAccessKey"];
            assert.strictEqual(fromStack()!.backupStore, undefined);
        });
    });
});
