/** A loopback app's metrics for the watch's error-rate tests (a real Prometheus scrapes it). */
import * as http from "http";
import { AddressInfo } from "net";

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
