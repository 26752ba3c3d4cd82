import * as assert from "assert";
import { parseLocalArgs } from "../../local/args";

describe("npm run local arguments", () => {
    it("collects --set in order, in both spellings", () => {
        assert.deepStrictEqual(parseLocalArgs(["--set", "activeColor=green", "--set=greenTag=v1", "--verbose"]), {
            sets: ["activeColor=green", "greenTag=v1"],
            reset: false,
            node: true,
            verbose: true,
            help: false,
        });
    });

    it("--reset stands alone", () => {
        assert.strictEqual(parseLocalArgs(["--reset"]).reset, true);
        assert.throws(() => parseLocalArgs(["--reset", "--set", "a=b"]), /--reset deletes .local\/ and does nothing else/);
        assert.throws(() => parseLocalArgs(["--reset", "--no-node"]), /--reset deletes .local\/ and does nothing else/);
    });

    it("runs on a real node unless --no-node", () => {
        assert.strictEqual(parseLocalArgs([]).node, true);
        assert.strictEqual(parseLocalArgs(["--no-node", "--set", "activeColor=green"]).node, false);
    });

    it("refuses unknown arguments and a --set without its value, as usage errors", () => {
        assert.throws(
            () => parseLocalArgs(["--sett"]),
            (e: any) => e.exitCode === 2 && /unknown argument "--sett"/.test(e.message),
        );
        assert.throws(() => parseLocalArgs(["--set"]), /--set needs key=value/);
    });
});
