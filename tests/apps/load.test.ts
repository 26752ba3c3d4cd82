/**
 * The load generator (devenv/apps/load) through its wrapper (devenv/loadGenerator.ts), on loopback:
 * it counts exactly what a server answered, names each kind of failure as a client sees it, and
 * tells a switch that drains gracefully (zero failed) from one that does not (drops): the
 * measurement can fail.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import { XMLValidator } from "fast-xml-parser";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import { AddressInfo } from "net";
import * as path from "path";
import { describePhase, FailureKind, LoadReport, LoadRun, loadCommand, samplerNames, startLoad } from "../../devenv/loadGenerator";
import { freeLoopbackPort } from "../../devenv/freePorts";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { switchTimelineSvg } from "../../devenv/trafficTimeline";
import { StandInProcess, startStandIn } from "../support/standInProcess";
import { startForwarder } from "../support/switchingForwarder";

const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The API stand-in's environment for requests that never reach the database (`/version`). */
const apiEnv = (extra: Record<string, string> = {}) => ({
    DATABASE_HOST: "127.0.0.1",
    DATABASE_NAME: "none",
    DATABASE_USER: "none",
    POSTGRES_PASSWORD: "none",
    SHUTDOWN_GRACE_SECONDS: "5",
    ...extra,
});

const failuresOf = (report: LoadReport, phase: string, kind: FailureKind) =>
    samplerNames.map(sampler => report.phases.find(p => p.name === phase)!.samplers[sampler].failures[kind]);

/** The API's own count of answers with `code` (its /metrics). */
async function answered(api: StandInProcess, code: number): Promise<number> {
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    return Number(new RegExp(`^http_requests_total\\{code="${code}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
}

describe("the load generator", function () {
    let apps: StandInApps;
    const started: { kill(): void }[] = [];
    const servers: (http.Server | net.Server)[] = [];
    const loads: LoadRun[] = [];

    const api = async (extra: Record<string, string> = {}) => {
        const process = await startStandIn(apps.bin.api, apiEnv(extra));
        started.push(process);
        return process;
    };
    const load = async (url: string, options: { ratePerSecond?: number; timeoutMs?: number; pool?: number } = {}) => {
        const run = await startLoad({ binary: apps.bin.load, url, ratePerSecond: 100, ...options });
        loads.push(run);
        return run;
    };
    const listen = async <T extends http.Server | net.Server>(server: T) => {
        servers.push(server);
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        return (server.address() as AddressInfo).port;
    };

    before(async function () {
        apps = await standInApps();
    });
    afterEach(async () => {
        loads.splice(0).forEach(run => run.child.kill("SIGKILL"));
        started.splice(0).forEach(process => process.kill());
        for (const server of servers.splice(0)) {
            if (server instanceof http.Server) server.closeAllConnections();
            await new Promise(resolve => server.close(resolve));
        }
    });

    it("counts exactly what the API answered, per phase and per sampler, with a series that adds up", async () => {
        const target = await api();
        const run = await load(`${target.url}/version`);
        await pause(400);
        assert.ok((await run.phase("switch blue→green")) > 0);
        await pause(300);
        await run.event("selector changed");
        await pause(300);
        const report = await run.stop();

        const total = samplerNames.reduce((sum, s) => sum + report.totals[s].requests, 0);
        assert.strictEqual(total, await answered(target, 200), "every request the generator counts, the API answered, and no other");
        for (const sampler of samplerNames) {
            const figures = report.totals[sampler];
            assert.strictEqual(figures.failed, 0, JSON.stringify(figures));
            // At 100/s for the phases' length (about a second, longer on a busy machine): a steady rate, not a burst.
            const ms = report.phases.reduce((sum, p) => sum + p.endMs - p.startMs, 0);
            assert.ok(figures.requests >= 0.7 * (ms / 10) && figures.requests <= 1.1 * (ms / 10) + 2, `${sampler}: ${figures.requests} requests in ${ms} ms`);
            assert.strictEqual(
                report.phases.reduce((sum, p) => sum + p.samplers[sampler].requests, 0),
                figures.requests,
            );
            assert.strictEqual(
                report.series[sampler].reduce((sum, step) => sum + step.requests, 0),
                figures.requests,
            );
            assert.ok(figures.p50Ms! > 0 && figures.p50Ms! <= figures.p99Ms! && figures.p99Ms! <= figures.maxMs!, JSON.stringify(figures));
        }
        assert.deepStrictEqual(
            report.phases.map(p => p.name),
            ["start", "switch blue→green"],
        );
        assert.ok(report.phases[1].samplers.fresh.requests >= 40, "the phase counts the requests started in it");
        assert.deepStrictEqual(
            report.events.map(e => e.name),
            ["selector changed"],
        );
        assert.ok(report.events[0].atMs > report.phases[1].startMs);
        assert.strictEqual(report.series.fresh[1].startMs, 100);
        assert.strictEqual(report.stoppedBy, "stop");
        assert.match(describePhase(report, "switch blue→green"), /^switch blue→green: \d+ requests, 0 failed, p99 [\d.]+ ms$/);
    });

    it("reconnect: the pooled sampler's requests from then on come on new connections, never on one opened before", async () => {
        const old = new Set<net.Socket>();
        let phase: "before" | "reconnecting" | "after" = "before";
        const after = { requests: 0, onOld: 0, sockets: new Set<net.Socket>() };
        const port = await listen(
            http.createServer((req, res) => {
                if (req.headers["user-agent"] === "physioflow-load/pooled") {
                    if (phase === "before") old.add(req.socket);
                    if (phase === "after") {
                        after.requests++;
                        after.sockets.add(req.socket);
                        if (old.has(req.socket)) after.onOld++;
                    }
                }
                res.end("ok");
            }),
        );
        const run = await load(`http://127.0.0.1:${port}/`, { pool: 2 });
        await pause(300);
        phase = "reconnecting";
        const at = await run.reconnect();
        // A request sent on an old connection just before may still come: from 100 ms on, none may.
        await pause(100);
        phase = "after";
        await pause(300);
        const report = await run.stop();
        assert.ok(old.size >= 1 && after.requests >= 20, JSON.stringify({ old: old.size, after: after.requests }));
        assert.strictEqual(after.onOld, 0, "a request after the reconnect came on a connection opened before it");
        assert.ok(after.sockets.size >= 1 && after.sockets.size <= 2, `${after.sockets.size} pooled connections after`);
        assert.deepStrictEqual(
            report.events.map(e => [e.name, Math.round(e.atMs)]),
            [["pooled reconnects", at]],
        );
    });

    it("fresh opens a connection per request; pooled keeps at most --pool open", async () => {
        const connections: Record<string, Set<net.Socket>> = { fresh: new Set(), pooled: new Set() };
        const requests: Record<string, number> = { fresh: 0, pooled: 0 };
        const port = await listen(
            http.createServer((req, res) => {
                const sampler = String(req.headers["user-agent"]).replace("physioflow-load/", "");
                requests[sampler]++;
                connections[sampler].add(req.socket);
                res.end("ok");
            }),
        );
        const run = await load(`http://127.0.0.1:${port}/`, { pool: 2 });
        await pause(500);
        const report = await run.stop();
        assert.strictEqual(report.totals.fresh.requests, requests.fresh);
        assert.strictEqual(report.totals.pooled.requests, requests.pooled);
        assert.strictEqual(connections.fresh.size, requests.fresh, "one connection per request");
        assert.ok(requests.pooled >= 30, `${requests.pooled} pooled requests`);
        assert.ok(connections.pooled.size >= 1 && connections.pooled.size <= 2, `${connections.pooled.size} pooled connections`);
    });

    it("a server stopped mid-run: refused from then on, in the phase after it", async () => {
        const server = http.createServer((_req, res) => res.end("ok"));
        const port = await listen(server);
        const run = await load(`http://127.0.0.1:${port}/`);
        await pause(300);
        await run.phase("stopped");
        server.close();
        server.closeAllConnections();
        await pause(300);
        const report = await run.stop();
        assert.deepStrictEqual(failuresOf(report, "start", "refused"), [0, 0]);
        for (const [sampler, count] of failuresOf(report, "stopped", "refused").entries()) assert.ok(count >= 15, `${samplerNames[sampler]}: ${count} refused`);
        assert.match(report.totals.fresh.examples!.refused!, /connection refused/);
    });

    it("a server that resets connections: reset; one that answers too slowly: timeout; FAULT=5xx: 5xx, as many as the API answered", async () => {
        const resetting = net.createServer(socket => socket.once("data", () => socket.resetAndDestroy()));
        const resets = await load(`http://127.0.0.1:${await listen(resetting)}/`);
        const slow = await api({ RESPONSE_DELAY_MS: "400" });
        const timeouts = await load(`${slow.url}/version`, { ratePerSecond: 20, timeoutMs: 150 });
        const failing = await api({ FAULT: "5xx" });
        const errors = await load(`${failing.url}/version`);
        await pause(500);
        const [reset, timeout, fiveHundreds] = await Promise.all([resets.stop(), timeouts.stop(), errors.stop()]);
        const only = (report: LoadReport, kind: FailureKind) => {
            for (const sampler of samplerNames) {
                const figures = report.totals[sampler];
                assert.ok(figures.requests > 0, sampler);
                assert.strictEqual(figures.failures[kind], figures.requests, `${sampler}: ${JSON.stringify(figures)}`);
                assert.strictEqual(figures.failed, figures.requests);
                assert.strictEqual(figures.p99Ms, null, "no latency without an answer");
            }
        };
        only(reset, "reset");
        only(timeout, "timeout");
        only(fiveHundreds, "5xx");
        assert.strictEqual(fiveHundreds.totals.fresh.requests + fiveHundreds.totals.pooled.requests, await answered(failing, 500));
        assert.match(fiveHundreds.totals.pooled.examples!["5xx"]!, /^HTTP 500$/);
    });

    describe("a switch behind a Service-like forwarder (open connections stay on the old instance)", () => {
        /**
         * Blue and green API stand-ins with slow answers (requests in flight), load through the
         * forwarder, the switch, then after `delayMs` `stopBlue`. The delay is the scale-down delay's
         * part here: a connection the forwarder accepted just before the switch may still be on its
         * way to blue's listener, and a listener that closes drops what it has not accepted yet.
         */
        const switchWith = async (delayMs: number, stop: "SIGTERM" | "SIGKILL") => {
            // 400 ms answers at 50/s: about 20 requests in flight per sampler (a pool of 32 never
            // queues), and at the stop, those started in the 250 ms before the switch still on blue.
            const [blue, green] = await Promise.all([api({ RESPONSE_DELAY_MS: "400" }), api({ RESPONSE_DELAY_MS: "400" })]);
            const forwarder = await startForwarder(Number(new URL(blue.url).port));
            started.push({ kill: () => void forwarder.close() });
            const run = await load(forwarder.url + "/version", { ratePerSecond: 50, pool: 32 });
            await pause(500);
            await run.phase("switch");
            await run.event("new connections → green");
            forwarder.switchTo(Number(new URL(green.url).port));
            await pause(delayMs);
            await run.event(`blue ${stop}`);
            blue.child.kill(stop);
            await pause(600);
            await run.phase("after");
            await pause(300);
            const report = await run.stop();
            // Its picture: drawn from this real run, and with UPDATE_TRAFFIC_EXAMPLES=1 the example in docs/.
            const svg = switchTimelineSvg(report, {
                title: `loopback switch, blue ${stop === "SIGTERM" ? "drained (SIGTERM)" : "killed (SIGKILL)"} ${delayMs} ms after`,
            });
            assert.strictEqual(XMLValidator.validate(svg), true);
            assert.strictEqual(svg.match(/<line class="marker"/g)?.length, 2);
            if (process.env.UPDATE_TRAFFIC_EXAMPLES === "1") fs.writeFileSync(path.join(__dirname, "..", "..", "docs", `traffic-switch-${stop}.svg`), svg);
            return { report, blue, green, svg };
        };

        it("blue drains on SIGTERM, 150 ms after green takes the new connections: zero failed", async () => {
            const { report, blue, green } = await switchWith(150, "SIGTERM");
            assert.strictEqual(await blue.exited, 0, blue.log());
            for (const phase of report.phases) {
                for (const sampler of samplerNames)
                    assert.strictEqual(phase.samplers[sampler].failed, 0, `${phase.name}/${sampler}: ${JSON.stringify(phase.samplers[sampler])}`);
            }
            const total = samplerNames.reduce((sum, s) => sum + report.totals[s].requests, 0);
            assert.ok((await answered(green, 200)) > 30, "green served after the switch");
            assert.ok(total > 100, `${total} requests`);
        });

        it("NEGATIVE CONTROL: blue killed without draining, with the same delay: the requests in flight on it are dropped", async () => {
            const { report, svg } = await switchWith(150, "SIGKILL");
            const dropped = samplerNames.reduce((sum, s) => sum + report.phases.find(p => p.name === "switch")!.samplers[s].failed, 0);
            assert.ok(dropped > 0, `no drop seen: ${JSON.stringify(report.phases[1].samplers)}`);
            // The fresh connections' requests cut on blue fail; the pooled ones fail too where their
            // connection was new, and are resent on a new connection (to green) where it was reused.
            assert.ok(failuresOf(report, "switch", "reset")[0] >= 5, JSON.stringify(report.phases[1].samplers));
            const pooled = report.phases[1].samplers.pooled;
            assert.ok(pooled.failed + pooled.retried >= 5, JSON.stringify(pooled));
            assert.match(describePhase(report, "switch"), /^switch: \d+ requests, [1-9]\d* failed \(reset \d+\)/);
            assert.match(svg, /<rect class="failure failure-reset" data-sampler="fresh"/, "the picture shows the drops");
        });
    });

    it("SIGTERM and --max-duration stop it with a report too", async () => {
        const target = await api();
        const run = await load(`${target.url}/version`);
        await pause(200);
        const report = await run.terminate();
        assert.strictEqual(report.stoppedBy, "terminated");
        assert.ok(report.totals.fresh.requests > 0);
        const bounded = await startLoad({ binary: apps.bin.load, url: `${target.url}/version`, maxDurationMs: 300 });
        loads.push(bounded);
        await new Promise(resolve => bounded.child.on("close", resolve));
        assert.strictEqual((await bounded.stop()).stoppedBy, "max duration 300ms");
    });

    it("refuses bad options and control lines in one line", async () => {
        await assert.rejects(startLoad({ binary: apps.bin.load, url: "https://example.test/" }), {
            message: 'the load generator: error: --url is "https://example.test/"; it must be an http:// URL',
        });
        await assert.rejects(startLoad({ binary: apps.bin.load, url: "http://127.0.0.1:1/", ratePerSecond: 5000 }), {
            message: "the load generator: error: --rate is 5000; it must be 1 to 1000 requests per second",
        });
        const run = await load("http://127.0.0.1:1/", { ratePerSecond: 1 });
        await assert.rejects(run.phase("two\nlines"), { message: 'a phase name is words on one line, not "two\\nlines"' });
        run.child.stdin!.write("jump\n");
        await assert.rejects(run.event("late"), {
            message: 'the load generator: error: control line "jump" is not phase NAME, event NAME, reconnect or stop; ignored',
        });
        assert.strictEqual((await run.stop()).stoppedBy, "stop");
    });

    it("runs inside a network namespace with nsenter --net (the API there, nothing on that port here)", async () => {
        const port = await freeLoopbackPort();
        // unshare execs the shell, which execs the API: its pid's namespace is the new one, loopback up.
        const inside = spawn("unshare", ["--net", "sh", "-c", 'ip link set lo up && exec "$0"', apps.bin.api], {
            env: { PATH: process.env.PATH, ...apiEnv({ LISTEN_ADDRESS: "127.0.0.1", PORT: String(port) }) },
            stdio: ["ignore", "ignore", "pipe"],
        });
        started.push({ kill: () => inside.kill("SIGKILL") });
        await new Promise<void>((resolve, reject) => {
            inside.stderr.on("data", chunk => String(chunk).includes("listening on") && resolve());
            inside.on("exit", code => reject(new Error(`the API in its namespace exited (${code})`)));
        });
        const url = `http://127.0.0.1:${port}/version`;
        const there = await startLoad({ binary: apps.bin.load, url, netns: `/proc/${inside.pid}/ns/net` });
        const here = await load(url);
        loads.push(there);
        await pause(300);
        const [inNamespace, outside] = await Promise.all([there.stop(), here.stop()]);
        assert.strictEqual(inNamespace.totals.fresh.failed + inNamespace.totals.pooled.failed, 0, JSON.stringify(inNamespace.totals));
        assert.ok(inNamespace.totals.fresh.ok > 0);
        assert.strictEqual(outside.totals.fresh.failures.refused, outside.totals.fresh.requests);
        assert.deepStrictEqual(loadCommand({ binary: "/bin/load", url, netns: "/run/netns/node" }).args.slice(0, 3), [
            "--net=/run/netns/node",
            "--",
            "/bin/load",
        ]);
    });
});
