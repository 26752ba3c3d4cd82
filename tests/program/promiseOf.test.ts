import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { promiseOf } from "../support/programRun";

describe("promiseOf, the tests' one way to read an Output", () => {
    it("resolves a plain value, a promise and an Output", async () => {
        assert.strictEqual(await promiseOf("a"), "a");
        assert.strictEqual(await promiseOf(Promise.resolve(2)), 2);
        assert.deepStrictEqual(await promiseOf(pulumi.output({ b: [3] })), { b: [3] });
    });
    it("rejects at once when the value failed, instead of waiting for the test's timeout", async () => {
        const failed = pulumi.output(Promise.reject<string>(new Error("lookup failed"))).apply(v => v);
        await assert.rejects(promiseOf(failed), /lookup failed/);
    });
    it("rejects an unknown value (a preview's), whose apply would never run", async () => {
        const unknown = pulumi.output(pulumi.unknown);
        await assert.rejects(promiseOf(unknown), /unknown/);
    });
});
