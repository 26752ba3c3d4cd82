/**
 * Colors and the migration files' target and hash, pinned down where StrykerJS could change
 * components/colors.ts or components/migrationFiles.ts unnoticed (npm run test:mutation:program).
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { colors, isColor, otherColor, replicasByColor } from "../../components/colors";
import { lastLine } from "../../components/databaseCommands";
import { migrationsChecksum, newestMigrationVersion, resolveMigrationTarget } from "../../components/migrationFiles";

describe("colors: the two and nothing else", () => {
    it("are blue and green, in that order", () => {
        assert.deepStrictEqual(colors, ["blue", "green"]);
        assert.strictEqual(isColor("blue"), true);
        assert.strictEqual(isColor("green"), true);
        for (const other of ["", "Blue", "red", "blue "]) {
            assert.strictEqual(isColor(other), false, other);
        }
    });

    it("the inactive color gets the inactive count whichever color is active", () => {
        assert.deepStrictEqual(replicasByColor("blue", 3, 1), { blue: 3, green: 1 });
        assert.deepStrictEqual(replicasByColor("green", 3, 0), { blue: 0, green: 3 });
        assert.strictEqual(otherColor(otherColor("green")), "green");
    });
});

describe("migration files: target version and hash", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-migration-files-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("the newest version compares as text of three digits, whatever the order of the names", () => {
        assert.strictEqual(newestMigrationVersion(["010_b.sql", "009_a.sql", "100_c.sql", "099_d.sql"]), "100");
        assert.strictEqual(newestMigrationVersion(["README.md", "rollback"]), "000");
        assert.strictEqual(newestMigrationVersion(["001_a.sql"]), "001");
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
        const expected = crypto.createHash("sha256")
            .update("./001_a.sql\0").update("A").update("\0")
            .update("./002_b.sql\0").update("B").update("\0")
            .update("rollback/001_down.sql\0").update("a").update("\0")
            .digest("hex");
        assert.strictEqual(migrationsChecksum(dir), expected);
        assert.strictEqual(resolveMigrationTarget(undefined, dir), "002");
    });

    it("a renamed file changes the hash even with the same contents", () => {
        fs.writeFileSync(path.join(dir, "001_a.sql"), "A");
        const before = migrationsChecksum(dir);
        fs.renameSync(path.join(dir, "001_a.sql"), path.join(dir, "001_b.sql"));
        assert.notStrictEqual(migrationsChecksum(dir), before);
    });
});

describe("command output: the last non-empty line", () => {
    it("trims it and skips blank lines, whatever the line endings' spaces", () => {
        assert.strictEqual(lastLine("  015  \n   \n"), "015");
        assert.strictEqual(lastLine("a\nb"), "b");
        assert.strictEqual(lastLine("\n \n"), "");
    });
});
