/**
 * The error rate the watch after a switch reads from the team's Prometheus: one instant query
 * through Prometheus's HTTP API (`GET /api/v1/query`), and the line that says a breach.
 *
 * An empty result counts as 0: a Prometheus client creates a `code="500"` series only at the
 * first 5xx, so a healthy app has no data for a 5xx query. A value that is not a number
 * (NaN, e.g. a ratio with no requests) is an error, never "healthy"; +Inf is a breach.
 */

import { messageOnOneLine } from "../database/errors";

// The default query is a setting's default, so it lives with the settings.
export { defaultErrorRateQuery } from "../components/config";

export interface ErrorRateQueryOptions {
    /** How long to wait for Prometheus's answer, in milliseconds (also sent as the query's own `timeout`). Default 5000. */
    timeoutMs?: number;
}

/** What Prometheus's HTTP API answers (https://prometheus.io/docs/prometheus/latest/querying/api/): the fields read here. */
interface PrometheusAnswer {
    status?: string;
    /** With status `error`: why. */
    error?: unknown;
    /** With status `success`: `resultType` `vector` (result: series) or `scalar` (result: one sample), or `matrix`, `string`. */
    data?: { resultType?: string; result?: unknown };
}

/**
 * Runs `query` as an instant query on the Prometheus at `prometheusUrl` (its base URL, with any
 * path prefix) and returns the sum of the resulting vector's values (a scalar result: its value;
 * an empty vector: 0). Throws one line when Prometheus cannot be reached or does not answer in
 * time, when it refuses the query (its own error text), when the result is a range vector or a
 * string, or when a value is NaN.
 */
export async function queryErrorRate(prometheusUrl: string, query: string, options: ErrorRateQueryOptions = {}): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const url = new URL("api/v1/query", prometheusUrl.endsWith("/") ? prometheusUrl : `${prometheusUrl}/`);
    url.searchParams.set("query", query);
    url.searchParams.set("timeout", `${Math.max(1, Math.floor(timeoutMs / 1000))}s`);
    const where = `Prometheus at ${prometheusUrl}`;

    let response: Response;
    try {
        response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
    } catch (error) {
        const err = error as Error & { cause?: { message?: string; code?: string } };
        if (err.name === "TimeoutError") throw new Error(`${where} did not answer within ${timeoutMs / 1000} s`, { cause: error });
        throw new Error(`${where} is unreachable: ${messageOnOneLine(err.cause?.message ?? err.message)}`, { cause: error });
    }
    const text = await response.text();
    let body: PrometheusAnswer | null;
    try {
        body = JSON.parse(text) as PrometheusAnswer | null;
    } catch {
        throw new Error(`${where} answered HTTP ${response.status} with something other than its API's JSON; is prometheusUrl the server's base URL?`);
    }
    if (body?.status === "error") throw new Error(`${where} refused the error-rate query ${query}: ${messageOnOneLine(String(body.error))}`);
    if (!response.ok || body?.status !== "success") {
        throw new Error(`${where} answered HTTP ${response.status} without a result; is prometheusUrl the server's base URL?`);
    }

    const { resultType, result } = body.data ?? {};
    const what = (labels: Record<string, string> | undefined) =>
        labels && Object.keys(labels).length
            ? ` for {${Object.entries(labels)
                  .map(([k, v]) => `${k}="${v}"`)
                  .join(",")}}`
            : "";
    const valueOf = (sample: unknown, labels?: Record<string, string>) => {
        const value = parseSampleValue(Array.isArray(sample) ? sample[1] : undefined);
        if (Number.isNaN(value)) {
            throw new Error(`the error-rate query ${query} gave NaN${what(labels)} on ${where} (a ratio with no requests?); it must give a number`);
        }
        return value;
    };
    if (resultType === "scalar") return valueOf(result);
    if (resultType === "vector") {
        return (result as { metric?: Record<string, string>; value: unknown }[]).reduce((sum, series) => sum + valueOf(series.value, series.metric), 0);
    }
    const kinds: Record<string, string> = { matrix: "a range vector (a [range] outside rate()?)", string: "a string" };
    throw new Error(
        `the error-rate query ${query} gave ${kinds[String(resultType)] ?? `a "${resultType}" result`} on ${where}; it must give an instant vector or a scalar`,
    );
}

/**
 * The breach line when `value` is not at or below `threshold` (NaN is a breach), e.g.
 * `error rate 0.42/s above 0.1/s (query: sum(rate(...)))`; undefined when within it.
 */
export function errorRateBreach(value: number, threshold: number, query: string): string | undefined {
    if (value <= threshold) return undefined;
    return `error rate ${formatRate(value)}/s above ${formatRate(threshold)}/s (query: ${query})`;
}

/** Prometheus's sample values are strings, with `NaN`, `+Inf` and `-Inf` spelled its own way. */
function parseSampleValue(raw: unknown): number {
    if (raw === "+Inf") return Infinity;
    if (raw === "-Inf") return -Infinity;
    return typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
}

/** Up to 3 significant digits, no exponent for everyday rates: 0.42, 0.0333, 12.5, 1500. */
function formatRate(value: number): string {
    if (!Number.isFinite(value)) return String(value);
    return String(Number(value.toPrecision(3)));
}
