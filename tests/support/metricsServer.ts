/** A loopback app's metrics for the watch's error-rate tests, and the Prometheus fixture that scrapes it. */
import * as http from "http";
import { AddressInfo } from "net";
import { PrometheusServer, startPrometheus } from "./prometheus";

/**
 * An app's `/metrics`: `http_requests_total` per status code, each counter growing at the rate
 * (requests per second) the test sets, as an app under steady traffic would count.
 */
export function metricsServer(namespace: string) {
    const counters: Record<string, { count: number; perSecond: number; since: number }> = {};
    const current = (code: string) => {
        const c = counters[code];
        const now = Date.now();
        c.count += (c.perSecond * (now - c.since)) / 1000;
        c.since = now;
        return Math.floor(c.count);
    };
    const server = http.createServer((req, res) => {
        if (req.url !== "/metrics") return void res.writeHead(404).end("not found\n");
        const lines = ["# HELP http_requests_total Requests served.", "# TYPE http_requests_total counter"];
        for (const code of Object.keys(counters).sort()) lines.push(`http_requests_total{namespace="${namespace}",code="${code}"} ${current(code)}`);
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(lines.join("\n") + "\n");
    });
    return {
        server,
        url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
        setRate(code: string, perSecond: number) {
            if (counters[code]) current(code);
            counters[code] ??= { count: 0, perSecond, since: Date.now() };
            counters[code].perSecond = perSecond;
        },
    };
}

/** What {@link prometheusScrapingApp} sets up; `prometheus` is set in the suite's `before` hook. */
export interface ScrapedApp {
    app: ReturnType<typeof metricsServer>;
    prometheus: PrometheusServer;
}

/**
 * The Prometheus fixture: declares the suite's hooks that serve an app's metrics on loopback, its
 * counters growing at `rates` (requests per second by status code), and start a real Prometheus
 * scraping it every second, up and with one scrape done before the first test; both stop after.
 */
export function prometheusScrapingApp(namespace: string, rates: Record<string, number>): ScrapedApp {
    const scraped = { app: metricsServer(namespace) } as ScrapedApp;
    before(async function () {
        this.timeout(60_000);
        const { app } = scraped;
        await new Promise<void>(resolve => app.server.listen(0, "127.0.0.1", resolve));
        for (const [code, perSecond] of Object.entries(rates)) app.setRate(code, perSecond);
        scraped.prometheus = await startPrometheus({ targets: [{ job: "physioflow-api", url: app.url() }], intervalSeconds: 1 });
        await scraped.prometheus.waitForTarget(app.url());
    });
    after(async () => {
        await scraped.prometheus?.stop();
        scraped.app.server.close();
    });
    return scraped;
}
