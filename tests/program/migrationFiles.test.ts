import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeMigrationHold, migrationsChecksum, migrationTriggers, newestMigrationVersion, resolveMigrationTarget } from "../../components/migrationFiles";

describe("migration files: the program's target version and hash of the folder", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-migration-files-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("the target is the newest NNN_name.sql, compared as text of three digits, ignoring other files", () => {
        assert.strictEqual(newestMigrationVersion(["001_initial_schema.sql", "010_b.sql", "002_a.sql", "rollback", "README.md", "9999_x.sql"]), "010");
        assert.strictEqual(newestMigrationVersion(["010_b.sql", "009_a.sql", "100_c.sql", "099_d.sql"]), "100");
        assert.strictEqual(newestMigrationVersion(["001_a.sql"]), "001");
        assert.strictEqual(newestMigrationVersion(["README.md", "rollback"]), "000");
        assert.strictEqual(newestMigrationVersion([]), "000");
    });

    it("a folder that does not exist has no migrations: target 000 and the hash of nothing", () => {
        const missing = path.join(dir, "nope");
        assert.strictEqual(resolveMigrationTarget(undefined, missing), "000");
        assert.strictEqual(resolveMigrationTarget("007", missing), "007");
        assert.strictEqual(migrationsChecksum(missing), crypto.createHash("sha256").digest("hex"));
    });

    it("hashes each .sql file's folder-relative name, a NUL, its contents and a NUL, sorted, the folder first and then rollback/", () => {
        fs.mkdirSync(path.join(dir, "rollback"));
        fs.writeFileSync(path.join(dir, "002_b.sql"), "B");
        fs.writeFileSync(path.join(dir, "001_a.sql"), "A");
        fs.writeFileSync(path.join(dir, "notes.txt"), "not a migration");
        fs.writeFileSync(path.join(dir, "rollback", "001_down.sql"), "a");
        fs.writeFileSync(path.join(dir, "rollback", "README.md"), "not a migration");
        const expected = crypto
            .createHash("sha256")
            .update("./001_a.sql\0")
            .update("A")
            .update("\0")
            .update("./002_b.sql\0")
            .update("B")
            .update("\0")
            .update("rollback/001_down.sql\0")
            .update("a")
            .update("\0")
            .digest("hex");
        assert.strictEqual(migrationsChecksum(dir), expected);
        assert.strictEqual(resolveMigrationTarget(undefined, dir), "002");
    });

    it("the hash changes when a file is added, edited or renamed, not otherwise; a target given is kept", () => {
        fs.mkdirSync(path.join(dir, "rollback"));
        fs.writeFileSync(path.join(dir, "001_a.sql"), "create table a (id int);");
        fs.writeFileSync(path.join(dir, "rollback", "001_down.sql"), "drop table a;");
        const first = migrationsChecksum(dir);
        assert.strictEqual(migrationsChecksum(dir), first);
        fs.writeFileSync(path.join(dir, "rollback", "001_down.sql"), "drop table if exists a;");
        const edited = migrationsChecksum(dir);
        assert.notStrictEqual(edited, first);
        fs.writeFileSync(path.join(dir, "002_b.sql"), "create table b (id int);");
        const added = migrationsChecksum(dir);
        assert.notStrictEqual(added, edited);
        fs.renameSync(path.join(dir, "002_b.sql"), path.join(dir, "002_c.sql"));
        assert.notStrictEqual(migrationsChecksum(dir), added, "same contents, another name");
        assert.strictEqual(resolveMigrationTarget(undefined, dir), "002");
        assert.strictEqual(resolveMigrationTarget("001", dir), "001");
    });

    it("up to a version: the files above it (and their down scripts) are left out, the hash of the rest is the folder's as it was", () => {
        fs.mkdirSync(path.join(dir, "rollback"));
        fs.writeFileSync(path.join(dir, "001_a.sql"), "create table a (id int);");
        fs.writeFileSync(path.join(dir, "rollback", "001_down.sql"), "drop table a;");
        fs.writeFileSync(path.join(dir, "seed.sql"), "not versioned: always hashed");
        const released = migrationsChecksum(dir);
        assert.strictEqual(migrationsChecksum(dir, "001"), released);
        fs.writeFileSync(path.join(dir, "002_b.sql"), "create table b (id int);");
        fs.writeFileSync(path.join(dir, "rollback", "002_down.sql"), "drop table b;");
        assert.strictEqual(migrationsChecksum(dir, "001"), released, "a new file above the target changes nothing");
        assert.notStrictEqual(migrationsChecksum(dir, "002"), released);
        assert.strictEqual(migrationsChecksum(dir, "002"), migrationsChecksum(dir));
        fs.writeFileSync(path.join(dir, "001_a.sql"), "create table a (id bigint);");
        assert.notStrictEqual(migrationsChecksum(dir, "001"), released, "an edit up to the target still counts");
    });

    it("triggers: the configured target or the newest file; held, the applied version whatever the files or the setting say", () => {
        fs.mkdirSync(path.join(dir, "rollback"));
        for (const v of ["001", "002", "003"]) {
            fs.writeFileSync(path.join(dir, `${v}_m.sql`), `-- ${v}`);
            fs.writeFileSync(path.join(dir, "rollback", `${v}_down.sql`), `-- down ${v}`);
        }
        assert.deepStrictEqual(migrationTriggers(dir, undefined), { target: "003", checksum: migrationsChecksum(dir) });
        assert.deepStrictEqual(migrationTriggers(dir, "002"), { target: "002", checksum: migrationsChecksum(dir, "002") });
        assert.deepStrictEqual(migrationTriggers(dir, "003", "001"), {
            target: "001",
            checksum: migrationsChecksum(dir, "001"),
            held: { newer: ["002", "003"] },
        });
        assert.deepStrictEqual(migrationTriggers(dir, undefined, "003"), { target: "003", checksum: migrationsChecksum(dir), held: { newer: [] } });
    });

    it("the preview's line for a hold names the version, the files not applied and what moves it on; none without a hold", () => {
        const tail = "the next deploy's release step moves the target on (by hand: pulumi config set holdMigrations false)";
        const head = "migrations held at 005, the version the stack's last update applied (physioflow:holdMigrations, set by a rollback): ";
        assert.strictEqual(describeMigrationHold({ target: "005", checksum: "x" }, "migrations"), undefined);
        assert.strictEqual(
            describeMigrationHold({ target: "005", checksum: "x", held: { newer: ["006"] } }, "migrations"),
            `${head}006 in migrations/ is not applied and no backup is taken; ${tail}`,
        );
        assert.strictEqual(
            describeMigrationHold({ target: "005", checksum: "x", held: { newer: ["006", "007"] } }, "migrations"),
            `${head}006, 007 in migrations/ are not applied and no backup is taken; ${tail}`,
        );
        assert.strictEqual(
            describeMigrationHold({ target: "005", checksum: "x", held: { newer: [] } }, "migrations"),
            `${head}no backup or migration runs; ${tail}`,
        );
    });
});
