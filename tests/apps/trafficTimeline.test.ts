/**
 * The timeline picture of a switch (devenv/trafficTimeline.ts) from a load report: valid XML, the
 * failures drawn where and as they happened in their kind's color, the markers and phases present,
 * the p99 line broken where nothing was answered; and the examples in docs/ are such pictures.
 */
import * as assert from "assert";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import * as fs from "fs";
import * as path from "path";
import { FailureKind, LoadReport, LoadStep, SamplerFigures } from "../../devenv/loadGenerator";
import { switchTimelineSvg, timelineColors } from "../../devenv/trafficTimeline";

const noFailures = (): Record<FailureKind, number> => ({ refused: 0, reset: 0, timeout: 0, "5xx": 0, other: 0 });
const figures = (): SamplerFigures => ({ requests: 0, ok: 0, failed: 0, failures: noFailures(), retried: 0, p50Ms: null, p99Ms: null, maxMs: null });

/** Ten steps of 10 requests; the fresh sampler loses 3 to refused at 300 ms and 1 to reset at 400 ms; nothing answered at 500 ms. */
function syntheticReport(): LoadReport {
    const step = (index: number, failures: Partial<Record<FailureKind, number>> = {}, p99Ms: number | null = 5): LoadStep => ({
        startMs: index * 100,
        requests: 10,
        failures: { ...noFailures(), ...failures },
        p99Ms,
    });
    const fresh = Array.from({ length: 10 }, (_, i) => step(i));
    fresh[3] = step(3, { refused: 3 });
    fresh[4] = step(4, { reset: 1 });
    fresh[5] = step(5, { timeout: 10 }, null);
    const pooled = Array.from({ length: 10 }, (_, i) => step(i, {}, i === 5 ? null : 3));
    return {
        url: "http://127.0.0.1:1/",
        ratePerSecond: 100,
        timeoutMs: 1000,
        intervalMs: 100,
        pool: 8,
        startedAt: "2026-12-07T00:00:00Z",
        durationMs: 1000,
        stoppedBy: "stop",
        phases: [
            { name: "before", startMs: 0, endMs: 250, samplers: { fresh: figures(), pooled: figures() } },
            { name: "switch <blue→green> & co", startMs: 250, endMs: 1000, samplers: { fresh: figures(), pooled: figures() } },
        ],
        events: [{ name: "from the report", atMs: 900 }],
        totals: { fresh: figures(), pooled: figures() },
        series: { fresh, pooled },
    };
}

type Node = Record<string, unknown>;
const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    textNodeName: "content",
    isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});
const svgOf = (xml: string) => (parser.parse(xml) as { svg: Node[] }).svg[0];
/** An attribute's value ("" when absent). */
const attr = (node: Node, name: string): string => (typeof node[name] === "string" ? node[name] : "");
/** The child elements named `name`. */
const children = (node: Node, name: string) => (node[name] ?? []) as Node[];
/** The text of an element (the parser gives a bare string for one without attributes). */
const textOf = (node: unknown): string => (typeof node === "string" ? node : [(node as Node).content].flat().map(String)[0]);
const withClass = (node: Node, element: string, pattern: RegExp) => children(node, element).filter(child => pattern.test(attr(child, "class")));

describe("the switch timeline picture", () => {
    const markers = [
        { name: "selector changed", atMs: 250 },
        { name: "EndpointSlice changed", atMs: 280 },
        { name: "kube-proxy synced", atMs: 320 },
        { name: "old color scaled down", atMs: 700 },
    ];

    it("is valid XML: an svg with its size, title and every marker, phase and failure", () => {
        const xml = switchTimelineSvg(syntheticReport(), { title: "switch blue→green", markers });
        assert.strictEqual(XMLValidator.validate(xml), true);
        const svg = svgOf(xml);
        assert.strictEqual(attr(svg, "width"), "960");
        assert.match(attr(svg, "viewBox"), /^0 0 960 \d+$/);
        assert.strictEqual(textOf(children(svg, "title")[0]), "switch blue→green");
        const lines = withClass(svg, "line", /^marker$/);
        assert.strictEqual(lines.length, 4);
        const labels = withClass(svg, "text", /^marker-name$/).map(node => textOf(node));
        assert.deepStrictEqual(labels, [
            "selector changed (250 ms)",
            "EndpointSlice changed (280 ms)",
            "kube-proxy synced (320 ms)",
            "old color scaled down (700 ms)",
        ]);
        // Each marker at its time: the plot is 870 px wide from x=70 for 1000 ms.
        assert.deepStrictEqual(
            lines.map(line => Number(attr(line, "x1"))),
            markers.map(m => Math.round((70 + (m.atMs / 1000) * 870) * 10) / 10),
        );
        const phases = withClass(svg, "text", /^phase-name$/).map(node => textOf(node));
        assert.deepStrictEqual(phases, ["before", "switch <blue→green> & co"]);
    });

    it("draws each failure where it happened, in its kind's color, above the answered requests", () => {
        const svg = svgOf(switchTimelineSvg(syntheticReport(), { title: "t", markers }));
        const failures = withClass(svg, "rect", /^failure /).map(rect => ({
            sampler: attr(rect, "data-sampler"),
            kind: attr(rect, "data-kind"),
            count: attr(rect, "data-count"),
            ms: attr(rect, "data-ms"),
            fill: attr(rect, "fill"),
        }));
        assert.deepStrictEqual(failures, [
            { sampler: "fresh", kind: "refused", count: "3", ms: "300", fill: timelineColors.refused },
            { sampler: "fresh", kind: "reset", count: "1", ms: "400", fill: timelineColors.reset },
            { sampler: "fresh", kind: "timeout", count: "10", ms: "500", fill: timelineColors.timeout },
        ]);
        const [refused] = withClass(svg, "rect", /^failure failure-refused$/);
        // 3 of a scale of 10 over 110 px, stacked on the 7 answered.
        assert.strictEqual(Number(attr(refused, "height")), 33);
        const answered = withClass(svg, "rect", /^ok$/).find(
            rect => Number(attr(rect, "x")) === Number(attr(refused, "x")) && Number(attr(rect, "y")) > Number(attr(refused, "y")),
        )!;
        assert.strictEqual(Number(attr(answered, "height")), 77);
        assert.strictEqual(Number(attr(answered, "y")), Number(attr(refused, "y")) + Number(attr(refused, "height")));
        assert.strictEqual(withClass(svg, "rect", /^ok$/).length, 19, "every step with answers but the one that timed out");
    });

    it("breaks the p99 line where nothing was answered; no failure drawn when none happened; the report's events by default", () => {
        const report = syntheticReport();
        const svg = svgOf(switchTimelineSvg(report, { title: "t" }));
        const paths = withClass(svg, "path", /^p99 /);
        assert.deepStrictEqual(
            paths.map(p => attr(p, "class")),
            ["p99 p99-fresh", "p99 p99-pooled"],
        );
        for (const p of paths) assert.strictEqual(attr(p, "d").match(/M/g)!.length, 2, attr(p, "d"));
        assert.deepStrictEqual(
            withClass(svg, "text", /^marker-name$/).map(node => textOf(node)),
            ["from the report (900 ms)"],
        );
        report.series.fresh.forEach(step => (step.failures = noFailures()));
        assert.strictEqual(withClass(svgOf(switchTimelineSvg(report, { title: "t" })), "rect", /^failure/).length, 0);
    });

    it("draws a single failed request at least 3 px high, whatever the scale", () => {
        const report = syntheticReport();
        report.series.pooled[9].requests = 100;
        const svg = svgOf(switchTimelineSvg(report, { title: "t" }));
        // 1 of a scale of 100 over 110 px would be 1.1 px.
        assert.strictEqual(Number(attr(withClass(svg, "rect", /^failure failure-reset$/)[0], "height")), 3);
    });

    it("draws only the window asked for", () => {
        const svg = svgOf(switchTimelineSvg(syntheticReport(), { title: "t", markers, fromMs: 200, toMs: 500 }));
        assert.deepStrictEqual(
            withClass(svg, "rect", /^failure /).map(rect => attr(rect, "data-kind")),
            ["refused", "reset"],
        );
        assert.strictEqual(withClass(svg, "line", /^marker$/).length, 3, "the scale-down at 700 ms is outside");
    });

    it("docs/traffic.md's examples are such pictures, from a real run (tests/apps/load.test.ts writes them)", () => {
        const docs = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "traffic.md"), "utf8");
        for (const name of ["traffic-switch-SIGKILL.svg", "traffic-switch-SIGTERM.svg"]) {
            assert.ok(docs.includes(`(${name})`), `docs/traffic.md shows ${name}`);
            const xml = fs.readFileSync(path.join(__dirname, "..", "..", "docs", name), "utf8");
            assert.strictEqual(XMLValidator.validate(xml), true, name);
            assert.strictEqual(withClass(svgOf(xml), "line", /^marker$/).length, 2, name);
        }
        const killed = svgOf(fs.readFileSync(path.join(__dirname, "..", "..", "docs", "traffic-switch-SIGKILL.svg"), "utf8"));
        assert.ok(withClass(killed, "rect", /^failure failure-reset$/).length > 0, "the negative control's drops are drawn");
    });
});
