/**
 * The watch's error rate (release/errorRate.ts) read from a real Prometheus (tests/support/prometheus.ts)
 * that scrapes a loopback metrics endpoint whose counters the test drives.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import { defaultErrorRateQuery, errorRateBreach, queryErrorRate } from "../../release/errorRate";
import { findPrometheusBinary, startPrometheus } from "../support/prometheus";
import { prometheusScrapingApp } from "../support/metricsServer";

const namespace = "physioflow-test";

/** A loopback port nothing listens on: bound, noted, closed. */
async function closedLoopbackPort(): Promise<number> {
    const probe = http.createServer();
    await new Promise<void>(resolve => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise(resolve => probe.close(resolve));
    return port;
}

/** Polls `read` until `done` holds of its value; fails with the last value after `timeoutMs`. */
async function pollUntil(read: () => Promise<number>, done: (value: number) => boolean, what: string, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline) assert.fail(`${what} not seen within ${timeoutMs} ms; last value ${value}`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
}

describe("errorRateBreach: the watch's breach line", () => {
    const query = defaultErrorRateQuery("physioflow-prod");

    it("the default query is the runbook's rate, the namespace's 5xx only, summed, over 1 minute", () => {
        assert.strictEqual(query, 'sum(rate(http_requests_total{namespace="physioflow-prod",code=~"5.."}[1m]))');
    });

    it("a rate at or below the threshold is no breach; above it, one line with both and the query", () => {
        assert.strictEqual(errorRateBreach(0, 0.1, query), undefined);
        assert.strictEqual(errorRateBreach(0.1, 0.1, query), undefined);
        assert.strictEqual(errorRateBreach(0.42, 0.1, query), `error rate 0.42/s above 0.1/s (query: ${query})`);
        assert.strictEqual(errorRateBreach(0.123456, 0, "q"), "error rate 0.123/s above 0/s (query: q)");
        assert.strictEqual(errorRateBreach(1234.5, 100, "q"), "error rate 1230/s above 100/s (query: q)");
    });

    it("NaN and +Inf are breaches, never healthy", () => {
        assert.strictEqual(errorRateBreach(NaN, 0.1, "q"), "error rate NaN/s above 0.1/s (query: q)");
        assert.strictEqual(errorRateBreach(Infinity, 0.1, "q"), "error rate Infinity/s above 0.1/s (query: q)");
    });
});

describe("queryErrorRate against a real Prometheus scraping a loopback app", function () {
    const scraped = prometheusScrapingApp(namespace, { "200": 20, "500": 0.5 });
    const { app } = scraped;
    // The default query over 10 s instead of 1 minute: rate() divides by its window, so over a
    // minute the app's new series would read low for the test's first minute.
    const query = defaultErrorRateQuery(namespace).replace("[1m]", "[10s]");
    const threshold = 2;

    it("a low error rate reads below the threshold; raising the 500 counter's pace takes the rate above it", async function () {
        this.timeout(60_000);
        // Two scrapes are needed before rate() has a value: until then the vector is empty (0).
        const low = await pollUntil(
            () => queryErrorRate(scraped.prometheus.url, query),
            value => value > 0,
            "a non-zero 5xx rate",
        );
        assert.ok(low < threshold, `low error rate ${low}`);
        assert.strictEqual(errorRateBreach(low, threshold, query), undefined);

        app.setRate("500", 20);
        const started = Date.now();
        const high = await pollUntil(
            () => queryErrorRate(scraped.prometheus.url, query),
            value => value > threshold,
            `a 5xx rate above ${threshold}/s`,
        );
        assert.match(
            errorRateBreach(high, threshold, query)!,
            /^error rate [\d.]+\/s above 2\/s \(query: sum\(rate\(http_requests_total\{namespace="physioflow-test",code=~"5\.\."\}\[10s\]\)\)\)$/,
        );
        assert.ok(Date.now() - started < 10_000, `the breach took ${Date.now() - started} ms to show`);
    });

    it("a vector of several series is summed (the runbook's rate(http_requests_total[5m]): 200s and 500s)", async () => {
        const runbook = await queryErrorRate(scraped.prometheus.url, "rate(http_requests_total[5m])");
        const [ok, errors] = await Promise.all([
            queryErrorRate(scraped.prometheus.url, 'rate(http_requests_total{code="200"}[5m])'),
            queryErrorRate(scraped.prometheus.url, 'rate(http_requests_total{code="500"}[5m])'),
        ]);
        assert.ok(ok > 0 && errors > 0, `200s ${ok}/s, 500s ${errors}/s`);
        // Three instant queries a few ms apart can straddle a scrape: compare loosely.
        assert.ok(Math.abs(runbook - (ok + errors)) < 0.25 * runbook, `runbook ${runbook} vs ${ok} + ${errors}`);
    });

    it("an empty vector (no 503 ever counted) reads 0; a scalar reads as its value", async () => {
        assert.strictEqual(await queryErrorRate(scraped.prometheus.url, `sum(rate(http_requests_total{code="503"}[5m]))`), 0);
        assert.strictEqual(await queryErrorRate(scraped.prometheus.url, "2.5"), 2.5);
        assert.strictEqual(await queryErrorRate(scraped.prometheus.url, "1/0"), Infinity);
    });

    it("NaN, a range vector or a string is an error of one line, not a healthy rate", async () => {
        await assert.rejects(queryErrorRate(scraped.prometheus.url, "0/0"), (error: Error) =>
            /^the error-rate query 0\/0 gave NaN on Prometheus at http:\/\/127\.0\.0\.1:\d+ .*it must give a number$/.test(error.message),
        );
        await assert.rejects(queryErrorRate(scraped.prometheus.url, 'sum(rate(http_requests_total{code="200"}[5m])) / 0 * 0'), (error: Error) =>
            /gave NaN on/.test(error.message),
        );
        await assert.rejects(queryErrorRate(scraped.prometheus.url, "http_requests_total[5m]"), (error: Error) =>
            /^the error-rate query http_requests_total\[5m\] gave a range vector \(a \[range\] outside rate\(\)\?\) on Prometheus at .*; it must give an instant vector or a scalar$/.test(
                error.message,
            ),
        );
        await assert.rejects(queryErrorRate(scraped.prometheus.url, '"x"'), /gave a string on Prometheus at .*; it must give an instant vector or a scalar$/);
    });

    it("bad PromQL: Prometheus's own error, in one line", async () => {
        const bad = "sum(rate(http_requests_total[5m)";
        await assert.rejects(queryErrorRate(scraped.prometheus.url, bad), (error: Error) => {
            assert.match(
                error.message,
                /^Prometheus at http:\/\/127\.0\.0\.1:\d+ refused the error-rate query sum\(rate\(http_requests_total\[5m\): invalid parameter "query": .*parse error/,
            );
            assert.doesNotMatch(error.message, /\n/);
            return true;
        });
    });

    it("a base URL with a trailing slash works; a URL that is not Prometheus's API says so", async () => {
        assert.strictEqual(await queryErrorRate(`${scraped.prometheus.url}/`, "2.5"), 2.5);
        const notPrometheus = app.url().replace(/\/metrics$/, "");
        await assert.rejects(queryErrorRate(notPrometheus, query), {
            message: `Prometheus at ${notPrometheus} answered HTTP 404 with something other than its API's JSON; is prometheusUrl the server's base URL?`,
        });
    });

    it("an unreachable Prometheus, or one that does not answer in time: one line", async () => {
        const port = await closedLoopbackPort();
        await assert.rejects(queryErrorRate(`http://127.0.0.1:${port}`, query), {
            message: `Prometheus at http://127.0.0.1:${port} is unreachable: connect ECONNREFUSED 127.0.0.1:${port}`,
        });

        const silent = http.createServer(() => undefined); // takes the request, never answers
        await new Promise<void>(resolve => silent.listen(0, "127.0.0.1", resolve));
        const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
        try {
            const started = Date.now();
            await assert.rejects(queryErrorRate(silentUrl, query, { timeoutMs: 300 }), { message: `Prometheus at ${silentUrl} did not answer within 0.3 s` });
            assert.ok(Date.now() - started < 2000);
        } finally {
            silent.closeAllConnections();
            silent.close();
        }
    });
});

describe("tests/support/prometheus: the harness", function () {
    it("a missing binary fails saying to run npm run setup (never a skip)", () => {
        const saved = process.env.PHYSIOFLOW_PROMETHEUS_BIN;
        process.env.PHYSIOFLOW_PROMETHEUS_BIN = "/nonexistent/prometheus";
        try {
            assert.throws(() => findPrometheusBinary(), {
                message: 'Prometheus is not installed (no /nonexistent/prometheus): run "npm run setup" (as root it installs Debian\'s prometheus package)',
            });
        } finally {
            if (saved === undefined) delete process.env.PHYSIOFLOW_PROMETHEUS_BIN;
            else process.env.PHYSIOFLOW_PROMETHEUS_BIN = saved;
        }
    });

    it("refuses a target that is not on loopback", async () => {
        await assert.rejects(startPrometheus({ targets: [{ job: "x", url: "http://10.244.0.5:7011/metrics" }] }), {
            message: "the test Prometheus scrapes loopback only; http://10.244.0.5:7011/metrics is not on 127.0.0.1",
        });
    });

    it("stop() ends the server and removes its files; a target that is down is reported with its error", async function () {
        this.timeout(60_000);
        const down = `http://127.0.0.1:${await closedLoopbackPort()}/metrics`;
        const prometheus = await startPrometheus({ targets: [{ job: "down", url: down }] });
        try {
            assert.ok(fs.existsSync(`${prometheus.dir}/data`));
            // Prometheus's discovery hands over new targets every 5 s: its first scrape comes after that.
            await assert.rejects(prometheus.waitForTarget(down, 8000), {
                message: new RegExp(`^Prometheus did not scrape ${down} within 8 s \\(health down: .*connection refused\\)$`),
            });
        } finally {
            await prometheus.stop();
        }
        assert.strictEqual(fs.existsSync(prometheus.dir), false);
        await assert.rejects(fetch(`${prometheus.url}/-/ready`), /fetch failed/);
        await prometheus.stop(); // twice is fine
    });
});
