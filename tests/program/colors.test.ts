import * as assert from "assert";
import { colors, isColor, otherColor, replicasByColor } from "../../components/colors";

describe("colors", () => {
    it("are blue and green, in that order, and nothing else", () => {
        assert.deepStrictEqual(colors, ["blue", "green"]);
        assert.strictEqual(isColor("blue"), true);
        assert.strictEqual(isColor("green"), true);
        for (const other of ["", "Blue", "red", "blue "]) {
            assert.strictEqual(isColor(other), false, other);
        }
    });

    it("the other color", () => {
        assert.strictEqual(otherColor("blue"), "green");
        assert.strictEqual(otherColor("green"), "blue");
    });

    it("replicas follow the active color; the inactive color gets the inactive count", () => {
        assert.deepStrictEqual(replicasByColor("blue", 2, 0), { blue: 2, green: 0 });
        assert.deepStrictEqual(replicasByColor("green", 2, 1), { blue: 1, green: 2 });
        assert.deepStrictEqual(replicasByColor("blue", 3, 1), { blue: 3, green: 1 });
        assert.deepStrictEqual(replicasByColor("green", 3, 0), { blue: 0, green: 3 });
    });
});
