import * as assert from "assert";
import { parseLocalArgs } from "../../local/args";

describe("npm run local arguments", () => {
    it("collects --set in order, in both spellings", () => {
        assert.deepStrictEqual(parseLocalArgs(["--set", "activeColor=green", "--set=greenTag=v1", "--verbose"]), {
            sets: ["activeColor=green", "greenTag=v1"],
            reset: false,
            verbose: true,
            help: false,
        });
    });

    it("--reset stands alone", () => {
        assert.strictEqual(parseLocalArgs(["--reset"]).reset, true);
        assert.throws(() => parseLocalArgs(["--reset", "--set", "a=b"]), /--reset deletes .local\/ and does nothing else/);
    });

    it("refuses unknown arguments and a --set without its value, as usage errors", () => {
        assert.throws(
            () => parseLocalArgs(["--sett"]),
            (e: any) => e.exitCode === 2 && /unknown argument "--sett"/.test(e.message),
        );
        assert.throws(() => parseLocalArgs(["--set"]), /--set needs key=value/);
    });
});
