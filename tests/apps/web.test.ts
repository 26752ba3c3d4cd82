/**
 * The web stand-in (devenv/apps/web): `web build` bakes the NEXT_PUBLIC_* values in its environment
 * into the chunk, as next build does; the server serves the page and that chunk, whatever its own
 * environment says at run time.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { pageAndChunks, StandInProcess, startStandIn } from "../support/standInProcess";

describe("the web stand-in", function () {
    let apps: StandInApps;
    let tmp: string;
    let web: StandInProcess | undefined;
    const baked = {
        NEXT_PUBLIC_API_URL: "https://physioflow-dev.example.test/api",
        NEXT_PUBLIC_APP_URL: "https://physioflow-dev.example.test",
        NEXT_PUBLIC_KEYCLOAK_REALM: "physioflow-dev",
    };

    before(async () => {
        apps = await standInApps();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "standin-web-"));
    });
    afterEach(() => web?.kill());
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("serves the page and a chunk with the build's NEXT_PUBLIC_* values, not the pod's", async () => {
        const site = path.join(tmp, "dev");
        const build = spawnSync(apps.bin.web, ["build", "--out", site], { env: { ...baked, OTHER: "x" }, encoding: "utf8" });
        assert.strictEqual(build.status, 0, build.stderr);
        // At run time the pod's environment names prod's URL: the build's values are still what is served.
        web = await startStandIn(apps.bin.web, { STATIC_DIR: site, NEXT_PUBLIC_API_URL: "https://physioflow.example.test/api" });
        const { page, chunks } = await pageAndChunks(web.url);
        assert.match(page, /<div id="__next">/);
        const names = Object.keys(chunks);
        assert.strictEqual(names.length, 1, page);
        assert.match(names[0], /^\/_next\/static\/chunks\/app-[0-9a-f]{16}\.js$/);
        const env = /\.env = (\{.*\});/.exec(chunks[names[0]]);
        assert.ok(env, chunks[names[0]]);
        assert.deepStrictEqual(JSON.parse(env[1]), baked);
        assert.ok(!chunks[names[0]].includes("https://physioflow.example.test/api"));
        assert.strictEqual((await fetch(`${web.url}/_next/static/chunks/`)).status, 404, "no directory listing");
        assert.match(await (await fetch(`${web.url}/metrics`)).text(), /^http_requests_total\{code="200"\} 2$/m);
    });

    it("a build with other values names its chunk differently; one without NEXT_PUBLIC_API_URL is refused in one line", () => {
        const names = ["a", "b"].map(name => {
            const site = path.join(tmp, name);
            const run = spawnSync(apps.bin.web, ["build", "--out", site], { env: { ...baked, NEXT_PUBLIC_APP_URL: `https://${name}.test` } });
            assert.strictEqual(run.status, 0);
            return fs.readdirSync(path.join(site, "_next/static/chunks"));
        });
        assert.notDeepStrictEqual(names[0], names[1]);
        const refused = spawnSync(apps.bin.web, ["build", "--out", path.join(tmp, "none")], { env: { NEXT_PUBLIC_APP_URL: "x" }, encoding: "utf8" });
        assert.strictEqual(refused.status, 1);
        assert.match(refused.stderr.trim(), /^physioflow-web: [^\n]*error: NEXT_PUBLIC_API_URL is not set[^\n]*$/);
    });

    it("exits 0 on SIGTERM", async () => {
        const site = path.join(tmp, "term");
        assert.strictEqual(spawnSync(apps.bin.web, ["build", "--out", site], { env: baked }).status, 0);
        web = await startStandIn(apps.bin.web, { STATIC_DIR: site });
        web.child.kill("SIGTERM");
        assert.strictEqual(await web.exited, 0, web.log());
    });
});
