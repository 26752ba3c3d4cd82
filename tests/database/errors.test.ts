import * as assert from "assert";
import { messageOnOneLine, UsageError } from "../../database/errors";

describe("errors for people", () => {
    it("messageOnOneLine folds a message's lines and the spaces around them into one space", () => {
        assert.strictEqual(messageOnOneLine(new Error("connect ECONNREFUSED\n    at 127.0.0.1:5432\n")), "connect ECONNREFUSED at 127.0.0.1:5432");
        assert.strictEqual(messageOnOneLine("parse error:\r\n  unexpected  end"), "parse error: unexpected  end");
        assert.strictEqual(messageOnOneLine(42), "42");
        assert.strictEqual(messageOnOneLine(new UsageError("one line already")), "one line already");
    });
});
