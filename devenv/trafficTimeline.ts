/**
 * A picture of one switch from the load generator's report (docs/traffic.md): requests per step
 * for each sampler with their failures stacked on top in a color per kind, the p99 latency, the
 * phases, and a vertical marker for each event (selector change, EndpointSlice change, kube-proxy
 * sync, old color scaled down). Pure: a report in, SVG text out.
 */
import { FailureKind, failureKinds, LoadMark, LoadReport, LoadStep, SamplerName, samplerNames } from "./loadGenerator";

export interface TimelineOptions {
    /** The picture's title, e.g. `switch blue→green`. */
    title: string;
    /** The moments to mark; default the report's events. */
    markers?: readonly LoadMark[];
    /** The part of the run to draw, in ms on the run's clock; default all of it. */
    fromMs?: number;
    toMs?: number;
}

/** The color of each kind of failure (and of answered requests, `ok`). */
export const timelineColors: Record<FailureKind | "ok", string> = {
    ok: "#a9bfd3",
    refused: "#d62728",
    reset: "#ff7f0e",
    timeout: "#9467bd",
    "5xx": "#8c564b",
    other: "#555555",
};

const samplerTitles: Record<SamplerName, string> = { fresh: "new connection per request", pooled: "keep-alive pool" };
const lineColors: Record<SamplerName, string> = { fresh: "#1f4e79", pooled: "#2ca02c" };

const width = 960;
const left = 70;
const right = 20;
const markerRows = 3;
const top = 52 + markerRows * 14;
const barHeight = 110;
const lineHeight = 90;
const gap = 30;

function escapeXml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

const round = (value: number) => Math.round(value * 10) / 10;

/** A round number at or above `value` (1, 2 or 5 times a power of ten). */
function niceCeiling(value: number): number {
    if (value <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map(step => step * power).find(candidate => candidate >= value)!;
}

function failuresIn(step: LoadStep): number {
    return failureKinds.reduce((sum, kind) => sum + step.failures[kind], 0);
}

function text(x: number, y: number, content: string, attributes = ""): string {
    return `<text x="${round(x)}" y="${round(y)}"${attributes ? ` ${attributes}` : ""}>${escapeXml(content)}</text>`;
}

function figuresLine(report: LoadReport, steps: Record<SamplerName, LoadStep[]>): string {
    return samplerNames
        .map(sampler => {
            const requests = steps[sampler].reduce((sum, step) => sum + step.requests, 0);
            const byKind = failureKinds
                .map(kind => [kind, steps[sampler].reduce((sum, step) => sum + step.failures[kind], 0)] as const)
                .filter(([, count]) => count > 0);
            const failed = byKind.reduce((sum, [, count]) => sum + count, 0);
            const kinds = byKind.length ? ` (${byKind.map(([kind, count]) => `${kind} ${count}`).join(", ")})` : "";
            return `${samplerTitles[sampler]}: ${requests} requests, ${failed} failed${kinds}`;
        })
        .join(" · ")
        .concat(` · ${report.ratePerSecond}/s per sampler, steps of ${report.intervalMs} ms`);
}

/** The SVG of `report` between `fromMs` and `toMs`. */
export function switchTimelineSvg(report: LoadReport, options: TimelineOptions): string {
    const fromMs = options.fromMs ?? 0;
    const toMs = Math.max(options.toMs ?? report.durationMs, fromMs + report.intervalMs);
    const markers = (options.markers ?? report.events).filter(marker => marker.atMs >= fromMs && marker.atMs <= toMs);
    const steps = Object.fromEntries(
        samplerNames.map(sampler => [sampler, report.series[sampler].filter(step => step.startMs + report.intervalMs > fromMs && step.startMs < toMs)]),
    ) as Record<SamplerName, LoadStep[]>;
    const plotWidth = width - left - right;
    const x = (ms: number) => left + ((Math.min(Math.max(ms, fromMs), toMs) - fromMs) / (toMs - fromMs)) * plotWidth;
    const panelTop = (index: number) => top + index * (barHeight + gap);
    const lineTop = panelTop(2);
    const axisY = lineTop + lineHeight;
    const height = axisY + 84;
    const parts: string[] = [];

    parts.push(text(left, 24, options.title, 'class="title" font-size="16" font-weight="bold"'));
    parts.push(text(left, 42, figuresLine(report, steps), 'class="figures" font-size="11"'));

    // The phases: a light band each behind the panels, named under the time axis.
    report.phases.forEach((phase, index) => {
        if (phase.endMs < fromMs || phase.startMs > toMs) return;
        const x0 = x(phase.startMs);
        const x1 = x(phase.endMs);
        parts.push(
            `<rect class="phase" x="${round(x0)}" y="${top}" width="${round(Math.max(x1 - x0, 0))}" height="${axisY - top}" fill="${index % 2 ? "#f1f1f1" : "#fafafa"}"/>`,
        );
        parts.push(text(x0 + 3, axisY + 32, phase.name, 'class="phase-name" font-size="11" fill="#444"'));
    });

    const requestsScale = niceCeiling(Math.max(1, ...samplerNames.flatMap(sampler => steps[sampler].map(step => step.requests))));
    samplerNames.forEach((sampler, index) => {
        const y0 = panelTop(index);
        const y = (count: number) => (count / requestsScale) * barHeight;
        parts.push(text(left, y0 - 6, `requests per ${report.intervalMs} ms, ${samplerTitles[sampler]}`, 'font-size="11" fill="#222"'));
        parts.push(`<line x1="${left}" y1="${y0 + barHeight}" x2="${width - right}" y2="${y0 + barHeight}" stroke="#888"/>`);
        parts.push(text(left - 6, y0 + 4, String(requestsScale), 'font-size="10" text-anchor="end" fill="#666"'));
        parts.push(text(left - 6, y0 + barHeight, "0", 'font-size="10" text-anchor="end" fill="#666"'));
        for (const step of steps[sampler]) {
            const x0 = x(step.startMs);
            const barWidth = Math.max(x(step.startMs + report.intervalMs) - x0 - 1, 1);
            let base = y0 + barHeight;
            const ok = step.requests - failuresIn(step);
            if (ok > 0) {
                parts.push(
                    `<rect class="ok" x="${round(x0)}" y="${round(base - y(ok))}" width="${round(barWidth)}" height="${round(y(ok))}" fill="${timelineColors.ok}"/>`,
                );
                base -= y(ok);
            }
            for (const kind of failureKinds) {
                const count = step.failures[kind];
                if (count === 0) continue;
                // At least 3 px: one failed request must be seen.
                const h = Math.max(y(count), 3);
                parts.push(
                    `<rect class="failure failure-${kind}" data-sampler="${sampler}" data-kind="${kind}" data-count="${count}" data-ms="${step.startMs}" ` +
                        `x="${round(x0)}" y="${round(base - h)}" width="${round(barWidth)}" height="${round(h)}" fill="${timelineColors[kind]}"><title>${count} ${kind} at ${step.startMs} ms (${sampler})</title></rect>`,
                );
                base -= h;
            }
        }
    });

    // p99 of the answered requests per step: one line per sampler, broken where none was answered.
    const p99Scale = niceCeiling(Math.max(1, ...samplerNames.flatMap(sampler => steps[sampler].map(step => step.p99Ms ?? 0))));
    parts.push(text(left, lineTop - 6, `p99 latency (ms) of the answered requests per ${report.intervalMs} ms`, 'font-size="11" fill="#222"'));
    parts.push(`<line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#888"/>`);
    parts.push(text(left - 6, lineTop + 4, String(p99Scale), 'font-size="10" text-anchor="end" fill="#666"'));
    parts.push(text(left - 6, axisY, "0", 'font-size="10" text-anchor="end" fill="#666"'));
    for (const sampler of samplerNames) {
        let path = "";
        let drawing = false;
        for (const step of steps[sampler]) {
            if (step.p99Ms === null) {
                drawing = false;
                continue;
            }
            const px = round(x(step.startMs + report.intervalMs / 2));
            const py = round(axisY - (step.p99Ms / p99Scale) * lineHeight);
            path += `${drawing ? "L" : "M"}${px} ${py} `;
            drawing = true;
        }
        if (path) parts.push(`<path class="p99 p99-${sampler}" d="${path.trim()}" fill="none" stroke="${lineColors[sampler]}" stroke-width="1.5"/>`);
    }

    // The time axis, in seconds from the start of the run.
    const spanS = (toMs - fromMs) / 1000;
    const tickS = niceCeiling(spanS / 10);
    for (let s = Math.ceil(fromMs / 1000 / tickS) * tickS; s * 1000 <= toMs; s += tickS) {
        const tx = x(s * 1000);
        parts.push(`<line x1="${round(tx)}" y1="${axisY}" x2="${round(tx)}" y2="${axisY + 4}" stroke="#888"/>`);
        parts.push(text(tx, axisY + 15, `${round(s)} s`, 'font-size="10" text-anchor="middle" fill="#666"'));
    }

    // The events: a dashed line through every panel, named above them in staggered rows.
    markers.forEach((marker, index) => {
        const mx = round(x(marker.atMs));
        const labelY = 58 + (index % markerRows) * 14;
        parts.push(`<line class="marker" x1="${mx}" y1="${labelY + 3}" x2="${mx}" y2="${axisY}" stroke="#222" stroke-dasharray="4 3"/>`);
        parts.push(text(mx + 3, labelY, `${marker.name} (${Math.round(marker.atMs)} ms)`, 'class="marker-name" font-size="11" fill="#222"'));
    });

    // The legend.
    const legend = [
        ["ok", timelineColors.ok],
        ...failureKinds.map(kind => [kind, timelineColors[kind]]),
        ...samplerNames.map(sampler => [`p99 ${sampler}`, lineColors[sampler]]),
    ];
    legend.forEach(([name, color], index) => {
        const lx = left + index * 95;
        parts.push(`<rect x="${lx}" y="${axisY + 50}" width="12" height="12" fill="${color}"/>`);
        parts.push(text(lx + 16, axisY + 60, name, 'font-size="11" fill="#222"'));
    });

    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
        `<title>${escapeXml(options.title)}</title>`,
        `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
        ...parts,
        "</svg>",
        "",
    ].join("\n");
}
