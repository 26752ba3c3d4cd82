/**
 * The smoke Job's script, run for real (sh and curl) against a loopback HTTP server the test
 * controls, as the Job runs it against a color's Services.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import { parseSmokeChecks, smokeScript } from "../../components/smokeChecks";

describe("smoke test script (sh + curl against a loopback server)", () => {
    let server: http.Server;
    let base: string;
    const requests: string[] = [];
    /** Status per path; /flaky answers 503 twice, then 200. */
    const statuses: Record<string, number> = { "/health": 200, "/": 200, "/api/patients": 401, "/broken": 500 };
    let flaky = 0;
    before(async () => {
        server = http.createServer((req, res) => {
            requests.push(req.url!);
            const status = req.url === "/flaky" ? (++flaky > 2 ? 200 : 503) : (statuses[req.url!] ?? 404);
            res.writeHead(status).end();
        });
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());
    beforeEach(() => {
        requests.length = 0;
        flaky = 0;
    });

    const runScript = (checks: string, env: Record<string, string> = {}) =>
        new Promise<{ code: number; out: string }>(resolve => {
            const child = spawn("/bin/sh", ["-c", smokeScript(parseSmokeChecks(checks))], {
                env: { PATH: process.env.PATH!, PHYSIOFLOW_API_URL: base, PHYSIOFLOW_WEB_URL: base, ...env },
            });
            let out = "";
            child.stdout.on("data", d => {
                out += d;
            });
            child.stderr.on("data", d => {
                out += d;
            });
            child.on("close", code => resolve({ code: code ?? -1, out }));
        });

    it("passes when every path answers its status, one line per check", async () => {
        const result = await runScript("api:/health=200,web:/=200,api:/api/patients=401");
        assert.strictEqual(result.code, 0, result.out);
        assert.deepStrictEqual(result.out.trim().split("\n"), [
            `ok   ${base}/health: 200`,
            `ok   ${base}/: 200`,
            `ok   ${base}/api/patients: 401`,
            "smoke test passed",
        ]);
    });

    it("fails (exit 1) when a path answers another status, runs every check and says which failed", async function () {
        this.timeout(20000);
        const result = await runScript("api:/broken=200,web:/=200");
        assert.strictEqual(result.code, 1, result.out);
        assert.deepStrictEqual(result.out.trim().split("\n"), [
            `FAIL ${base}/broken: got 500, expected 200 (after 3 attempts)`,
            `ok   ${base}/: 200`,
            "smoke test failed",
        ]);
        assert.strictEqual(requests.filter(url => url === "/broken").length, 3);
    });

    it("retries a check that is not yet right", async function () {
        this.timeout(20000);
        const result = await runScript("api:/flaky=200");
        assert.strictEqual(result.code, 0, result.out);
        assert.strictEqual(requests.length, 3);
    });

    it("fails when nothing answers", async function () {
        this.timeout(20000);
        const closed = http.createServer();
        await new Promise<void>(resolve => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as AddressInfo).port;
        await new Promise(resolve => closed.close(resolve));
        const result = await runScript("api:/health=200", { PHYSIOFLOW_API_URL: `http://127.0.0.1:${port}` });
        assert.strictEqual(result.code, 1, result.out);
        assert.match(result.out, new RegExp(`^FAIL http://127\\.0\\.0\\.1:${port}/health: got 000, expected 200 \\(after 3 attempts\\)$`, "m"));
    });
});

describe("smokeChecks setting", () => {
    it("parses app:path=status lists", () => {
        assert.deepStrictEqual(parseSmokeChecks(" api:/health=200 ,web:/=200,"), [
            { app: "api", path: "/health", status: 200 },
            { app: "web", path: "/", status: 200 },
        ]);
    });
    it("refuses what it cannot check, saying which entry and why", () => {
        assert.throws(() => parseSmokeChecks(""), { message: "list at least one check as app:path=status, e.g. api:/health=200" });
        assert.throws(() => parseSmokeChecks("api:/health"), { message: '"api:/health" is not app:path=status, e.g. api:/health=200' });
        assert.throws(() => parseSmokeChecks("db:/=200"), { message: '"db:/=200" names app "db"; apps: api, web' });
        assert.throws(() => parseSmokeChecks("api:/x';rm=200"), { message: `"api:/x';rm=200" has a path that is not a plain URL path starting with /` });
        assert.throws(() => parseSmokeChecks("api:health=200"), { message: '"api:health=200" has a path that is not a plain URL path starting with /' });
        assert.throws(() => parseSmokeChecks("api:/=999"), { message: '"api:/=999" expects status 999, not an HTTP status' });
    });
});
