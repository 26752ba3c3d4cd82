import * as assert from "assert";
import { otherColor, replicasByColor } from "../../components/colors";
import { newestMigrationVersion } from "../../components/migrationFiles";

describe("colors", () => {
    it("the other color", () => {
        assert.strictEqual(otherColor("blue"), "green");
        assert.strictEqual(otherColor("green"), "blue");
    });

    it("replicas follow the active color", () => {
        assert.deepStrictEqual(replicasByColor("blue", 2, 0), { blue: 2, green: 0 });
        assert.deepStrictEqual(replicasByColor("green", 2, 1), { blue: 1, green: 2 });
    });
});

describe("migration target", () => {
    it("is the newest NNN_name.sql, ignoring other files", () => {
        assert.strictEqual(newestMigrationVersion(["001_initial_schema.sql", "010_b.sql", "002_a.sql", "rollback", "README.md", "9999_x.sql"]), "010");
        assert.strictEqual(newestMigrationVersion([]), "000");
    });
});
