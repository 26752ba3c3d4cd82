import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { migrationsChecksum, newestMigrationVersion, resolveMigrationTarget } from "../../components/migrationFiles";

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
});
