/**
 * The smoke Job's script, run for real (sh and curl) against a loopback HTTP server the test
 * controls, as the Job runs it against a color's Services.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { unpackImage } from "../support/imageArchive";
import { StandInProcess, startStandIn } from "../support/standInProcess";
import { parseSmokeChecks, smokeScript } from "../../components/smokeChecks";

/** The stack's apiUrl the tests' web builds are checked against. */
const stackApiUrl = "https://physioflow.example.test/api";

/** The shell and PATH a smoke script runs with: this machine's, or the smoke image's. */
interface Tools {
    sh: string;
    path: string;
}
const machineTools: Tools = { sh: "/bin/sh", path: process.env.PATH! };

/** Runs `script` with the `tools`' sh and PATH and `env` (nothing else): its exit code and everything it printed. */
function runSmokeScript(script: string, env: Record<string, string>, tools: Tools = machineTools): Promise<{ code: number; out: string }> {
    return new Promise(resolve => {
        const child = spawn(tools.sh, ["-c", script], { env: { PATH: tools.path, ...env } });
        let out = "";
        child.stdout.on("data", d => {
            out += d;
        });
        child.stderr.on("data", d => {
            out += d;
        });
        child.on("close", code => resolve({ code: code ?? -1, out }));
    });
}

describe("smoke test script (sh + curl against a loopback server)", () => {
    let server: http.Server;
    let base: string;
    const requests: string[] = [];
    /** Status per path; /flaky answers 503 twice, then 200. */
    const statuses: Record<string, number> = { "/health": 200, "/": 200, "/api/patients": 401, "/broken": 500 };
    /** The web build the server serves: a page naming a chunk with this stack's NEXT_PUBLIC_API_URL. */
    const bodies: Record<string, string> = {
        "/": '<script src="/_next/static/chunks/app-0a1b.js" defer></script>',
        "/_next/static/chunks/app-0a1b.js": `(self.env = {"NEXT_PUBLIC_API_URL":"${stackApiUrl}"});`,
    };
    let flaky = 0;
    before(async () => {
        server = http.createServer((req, res) => {
            requests.push(req.url!);
            const status = req.url === "/flaky" ? (++flaky > 2 ? 200 : 503) : (statuses[req.url!] ?? (bodies[req.url!] ? 200 : 404));
            res.writeHead(status).end(bodies[req.url!] ?? "");
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
        runSmokeScript(smokeScript(parseSmokeChecks(checks)), {
            PHYSIOFLOW_API_URL: base,
            PHYSIOFLOW_WEB_URL: base,
            PHYSIOFLOW_WEB_API_URL: stackApiUrl,
            ...env,
        });

    it("passes when every path answers its status, one line per check", async () => {
        const result = await runScript("api:/health=200,web:/=200,api:/api/patients=401");
        assert.strictEqual(result.code, 0, result.out);
        assert.deepStrictEqual(result.out.trim().split("\n"), [
            `ok   ${base}/health: 200`,
            `ok   ${base}/: 200`,
            `ok   ${base}/api/patients: 401`,
            `ok   ${base}/: built with this stack's NEXT_PUBLIC_API_URL ${stackApiUrl}`,
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
            `ok   ${base}/: built with this stack's NEXT_PUBLIC_API_URL ${stackApiUrl}`,
            "smoke test failed",
        ]);
        assert.strictEqual(requests.filter(url => url === "/broken").length, 3);
    });

    it("retries a check that is not yet right", async function () {
        this.timeout(20000);
        const result = await runScript("api:/flaky=200");
        assert.strictEqual(result.code, 0, result.out);
        assert.strictEqual(requests.filter(url => url === "/flaky").length, 3);
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

// The web build check, run with this machine's sh and curl, and with the smoke image's own (busybox's
// sh and tools, curl's stand-in: scripts/apps.sh), unpacked here as the local node would run it.
for (const toolset of ["this machine's sh and curl", "the smoke image's busybox and curl stand-in"]) {
    describe(`smoke test script: the web build check (${toolset}, against the web stand-in and a test server)`, function () {
        let tools: Tools = machineTools;
        let apps: StandInApps;
        let tmp: string;
        const started: StandInProcess[] = [];
        const servers: http.Server[] = [];
        const otherStackApiUrl = "https://physioflow-dev.example.test/api";

        /** The web stand-in serving a build made with `apiUrl` as NEXT_PUBLIC_API_URL (as the runbook's docker build passes it). */
        const webBuiltFor = async (apiUrl: string) => {
            const site = fs.mkdtempSync(path.join(tmp, "site-"));
            const build = spawnSync(apps.bin.web, ["build", "--out", site], {
                env: { NEXT_PUBLIC_API_URL: apiUrl, NEXT_PUBLIC_APP_URL: apiUrl.replace(/\/api$/, "") },
                encoding: "utf8",
            });
            assert.strictEqual(build.status, 0, build.stderr);
            // At run time the pod's environment says this stack's URL: only the build counts.
            const web = await startStandIn(apps.bin.web, { STATIC_DIR: site, NEXT_PUBLIC_API_URL: stackApiUrl });
            started.push(web);
            return web.url;
        };
        /** A test server answering `bodies` (404 elsewhere), as a Next.js build that inlines the URL would. */
        const serving = async (bodies: Record<string, string>) => {
            const server = http.createServer((req, res) => res.writeHead(bodies[req.url!] === undefined ? 404 : 200).end(bodies[req.url!] ?? ""));
            servers.push(server);
            await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
            return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        };
        /** The stack's default checks against `web` (its API too: it answers / with 200), one attempt each. */
        const smoke = (web: string, env: Record<string, string> = {}) =>
            runSmokeScript(smokeScript(parseSmokeChecks("web:/=200"), 1), {
                PHYSIOFLOW_API_URL: web,
                PHYSIOFLOW_WEB_URL: web,
                PHYSIOFLOW_WEB_API_URL: stackApiUrl,
                ...env,
            });

        before(async () => {
            apps = await standInApps();
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "smoke-web-"));
            if (toolset.startsWith("the smoke image")) {
                const { root } = await unpackImage(apps.images.smoke, path.join(tmp, "smoke-image"));
                tools = { sh: path.join(root, "bin", "sh"), path: path.join(root, "bin") };
            }
        });
        afterEach(async () => {
            started.splice(0).forEach(web => web.kill());
            for (const server of servers.splice(0)) await new Promise(resolve => server.close(resolve));
        });
        after(() => fs.rmSync(tmp, { recursive: true, force: true }));

        it("passes a web color built with this stack's NEXT_PUBLIC_API_URL", async () => {
            const web = await webBuiltFor(stackApiUrl);
            const result = await smoke(web);
            assert.strictEqual(result.code, 0, result.out);
            assert.deepStrictEqual(result.out.trim().split("\n"), [
                `ok   ${web}/: 200`,
                `ok   ${web}/: built with this stack's NEXT_PUBLIC_API_URL ${stackApiUrl}`,
                "smoke test passed",
            ]);
        });

        it("refuses, in one line naming both URLs, a web color built for another stack, though its page answers 200", async () => {
            const web = await webBuiltFor(otherStackApiUrl);
            const result = await smoke(web);
            assert.strictEqual(result.code, 1, result.out);
            const lines = result.out.trim().split("\n");
            assert.strictEqual(lines[0], `ok   ${web}/: 200`);
            assert.match(
                lines[1],
                new RegExp(
                    `^FAIL web build: ${web}/_next/static/chunks/app-[0-9a-f]{16}\\.js has NEXT_PUBLIC_API_URL=${otherStackApiUrl} baked in, not this stack's ${stackApiUrl}: an image built for another environment$`,
                ),
            );
            assert.deepStrictEqual(lines.slice(2), ["smoke test failed"]);
        });

        it("a build that inlines the URL (as Next.js does): passes with this stack's, refused without it", async () => {
            const page = '<html><script src="/_next/static/chunks/webpack-1.js" async=""></script><script src=/_next/static/chunks/main-2.js></script>';
            const chunk = (apiUrl: string) => `fetch("${apiUrl}"+"/patients").then(function(r){return r.json()})`;
            const ours = await serving({ "/": page, "/_next/static/chunks/webpack-1.js": "(()=>{})()", "/_next/static/chunks/main-2.js": chunk(stackApiUrl) });
            const passed = await smoke(ours);
            assert.strictEqual(passed.code, 0, passed.out);
            const theirs = await serving({
                "/": page,
                "/_next/static/chunks/webpack-1.js": "(()=>{})()",
                "/_next/static/chunks/main-2.js": chunk(otherStackApiUrl),
            });
            const refused = await smoke(theirs);
            assert.strictEqual(refused.code, 1, refused.out);
            assert.match(
                refused.out,
                new RegExp(
                    `^FAIL web build: no chunk of ${theirs}/ holds this stack's NEXT_PUBLIC_API_URL ${stackApiUrl}: an image built for another environment$`,
                    "m",
                ),
            );
        });

        it("a check nothing answers: got 000, as curl -w says of a refused connection", async () => {
            const closed = await serving({});
            servers.splice(0).forEach(server => server.close());
            const result = await runSmokeScript(
                smokeScript(parseSmokeChecks("api:/health=200"), 1),
                { PHYSIOFLOW_API_URL: closed, PHYSIOFLOW_WEB_URL: await webBuiltFor(stackApiUrl), PHYSIOFLOW_WEB_API_URL: stackApiUrl },
                tools,
            );
            assert.strictEqual(result.code, 1, result.out);
            assert.match(result.out, new RegExp(`^FAIL ${closed}/health: got 000, expected 200 \\(after 1 attempts\\)$`, "m"));
        });

        it("refuses what it cannot read: a page naming no chunk, a chunk not served, no URL to expect", async () => {
            const noChunk = await serving({ "/": "<html>PhysioFlow</html>" });
            assert.match(
                (await smoke(noChunk)).out,
                new RegExp(`^FAIL ${noChunk}/: the page names no /_next/static/chunks/\\*\\.js to read NEXT_PUBLIC_API_URL from$`, "m"),
            );
            const missing = await serving({ "/": '<script src="/_next/static/chunks/gone.js"></script>' });
            assert.match((await smoke(missing)).out, new RegExp(`^FAIL ${missing}/_next/static/chunks/gone\\.js: not served, though the page names it$`, "m"));
            const web = await webBuiltFor(stackApiUrl);
            const unset = await smoke(web, { PHYSIOFLOW_WEB_API_URL: "" });
            assert.strictEqual(unset.code, 1, unset.out);
            assert.match(unset.out, /^FAIL web build: PHYSIOFLOW_WEB_URL and PHYSIOFLOW_WEB_API_URL must both be set$/m);
        });
    });
}

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
