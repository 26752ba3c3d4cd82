import * as assert from "assert";
import { readSmokeFailures, smokeFailureLines } from "../../release/smokeFailures";

const terminated = (message?: string) => ({ metadata: { name: "p" }, status: { containerStatuses: [{ state: { terminated: { exitCode: 1, message } } }] } });

describe("smoke failures: the FAIL lines a smoke Job's pod keeps in its status", () => {
    it("takes each FAIL line of the termination messages once, in order, and nothing else", () => {
        const message = [
            "ok   http://physioflow-api-blue:7011/health: 200",
            "FAIL http://physioflow-web-blue:3000/: got 503, expected 200 (after 3 attempts)",
            "FAIL web build: http://physioflow-web-blue:3000/_next/static/chunks/app-1.js has NEXT_PUBLIC_API_URL=https://dev.example/api baked in, not this stack's https://prod.example/api: an image built for another environment",
            "smoke test failed",
        ].join("\n");
        assert.deepStrictEqual(smokeFailureLines([terminated(message), terminated(message)]), [
            "FAIL http://physioflow-web-blue:3000/: got 503, expected 200 (after 3 attempts)",
            "FAIL web build: http://physioflow-web-blue:3000/_next/static/chunks/app-1.js has NEXT_PUBLIC_API_URL=https://dev.example/api baked in, not this stack's https://prod.example/api: an image built for another environment",
        ]);
    });

    it("is empty for pods that say nothing: running, never scheduled, or played by kwok (no message)", () => {
        assert.deepStrictEqual(
            smokeFailureLines([terminated(), { metadata: { name: "q" } }, { metadata: { name: "r" }, status: { containerStatuses: [{}] } }]),
            [],
        );
    });

    it("reads the pods of the Job's own uid (not an earlier Job's of the same name); a Job it cannot read adds nothing, and never throws", async () => {
        const asked: string[][] = [];
        const kubectl = async (args: readonly string[]) => {
            asked.push([...args]);
            if (args[1] === "job") return JSON.stringify({ metadata: { name: "physioflow-smoke-blue", uid: "u-1" } });
            return JSON.stringify({ items: [terminated("FAIL x")] });
        };
        assert.deepStrictEqual(await readSmokeFailures(kubectl, "ns", "physioflow-smoke-blue"), ["FAIL x"]);
        assert.deepStrictEqual(asked[1].slice(0, 5), ["get", "pods", "-n", "ns", "-l"]);
        assert.strictEqual(asked[1][5], "batch.kubernetes.io/controller-uid=u-1");
        const failing = async () => {
            throw new Error('Error from server (NotFound): jobs.batch "physioflow-smoke-blue" not found');
        };
        assert.deepStrictEqual(await readSmokeFailures(failing, "ns", "physioflow-smoke-blue"), []);
    });
});
