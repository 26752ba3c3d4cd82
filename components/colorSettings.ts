import * as crypto from "crypto";
import { apiEnvironment, webEnvironment } from "./appEnvironment";
import { Color, colors, otherColor } from "./colors";
import { ContainerResources, ShutdownSettings, StackConfig } from "./config";

export const apiPort = 7011;
export const webPort = 3000;

/** Probe thresholds of a color's containers (the stack's `startupTimeoutSeconds`, `readinessFailureThreshold`, `livenessFailureThreshold`). */
export interface ProbeSettings {
    startupTimeoutSeconds: number;
    readinessFailureThreshold: number;
    livenessFailureThreshold: number;
}

/** What one app of one color runs with, besides its image tag and its database credential. */
export interface AppSettings {
    /** Environment variables (the color's ConfigMap). */
    env: Record<string, string>;
    /** Path of the startup and readiness probes. */
    healthPath: string;
    resources: ContainerResources;
    probes: ProbeSettings;
    /** How its pods stop; absent in settings recorded before it existed (Kubernetes' defaults: no preStop, 30 s). */
    shutdown?: ShutdownSettings;
}

/** The settings a color was released with, per app. */
export interface ColorSettings {
    api: AppSettings;
    web: AppSettings;
}

/** The settings the stack's config asks for now (what a release gives the color it goes to). */
export function stackColorSettings(settings: StackConfig): ColorSettings {
    return {
        api: {
            env: apiEnvironment(settings, apiPort),
            healthPath: settings.apps.api.healthPath,
            resources: settings.apps.api.resources,
            probes: settings.probes,
            shutdown: settings.shutdown,
        },
        web: {
            env: webEnvironment(settings, webPort),
            healthPath: settings.apps.web.healthPath,
            resources: settings.apps.web.resources,
            probes: settings.probes,
            shutdown: settings.shutdown,
        },
    };
}

/** A short digest of settings, the same for the same values whatever the order of their keys. */
export function settingsDigest(value: ColorSettings): string {
    return crypto.createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/** What the last update recorded about the colors' settings (from the stack's outputs). */
export interface PreviousSettings {
    /** The color the live Services selected. */
    activeColor: Color;
    tags: Record<Color, string>;
    /** The settings each color ran with; absent before the first update that recorded them. */
    colorSettings?: Partial<Record<Color, ColorSettings>>;
    /** {@link settingsDigest} of the stack's config at that update. */
    settingsDigest?: string;
}

/**
 * Which settings each color runs with in this update. Settings flow like an image tag: the color
 * that was live keeps the settings it was released with (so a switch back returns to them), and
 * the other color takes the stack's current settings when it is released, that is when the
 * stack's settings changed since the last update or its own tag changes; otherwise it keeps what
 * it has. Before any recorded settings, both colors take the stack's. Pure.
 */
export function settingsByColor(previous: PreviousSettings | undefined, settings: StackConfig): Record<Color, ColorSettings> {
    const desired = stackColorSettings(settings);
    const recorded = previous?.colorSettings;
    if (previous === undefined || recorded === undefined) return { blue: desired, green: desired };
    const live = previous.activeColor;
    const other = otherColor(live);
    const released = previous.settingsDigest !== settingsDigest(desired) || previous.tags[other] !== settings.tags[other];
    const result = {
        [live]: recorded[live] ?? desired,
        [other]: released ? desired : (recorded[other] ?? desired),
    } as Record<Color, ColorSettings>;
    return Object.fromEntries(colors.map(color => [color, result[color]])) as Record<Color, ColorSettings>;
}

/** Reads recorded settings back from an output value; anything not shaped like them is undefined. */
export function parseColorSettings(value: unknown): Partial<Record<Color, ColorSettings>> | undefined {
    if (!isObject(value)) return undefined;
    const result: Partial<Record<Color, ColorSettings>> = {};
    for (const color of colors) {
        const entry = value[color];
        if (isObject(entry) && isAppSettings(entry.api) && isAppSettings(entry.web)) result[color] = entry as unknown as ColorSettings;
    }
    return Object.keys(result).length === 0 ? undefined : result;
}

function isAppSettings(value: unknown): boolean {
    return isObject(value) && isObject(value.env) && typeof value.healthPath === "string" && isObject(value.resources) && isObject(value.probes);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * JSON with every object's keys sorted and undefined members left out (as the stack's outputs
 * leave them out: settings read back must digest as they did when they were written). Settings
 * hold no arrays.
 */
function canonicalJson(value: unknown): string {
    if (isObject(value)) {
        // Stryker disable next-line StringLiteral: each member is a JSON key and value, so members read back unambiguously without a separator too
        return `{${Object.keys(value)
            .sort()
            .filter(k => value[k] !== undefined)
            .map(k => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value);
}
