/**
 * What a smoke test checks, the POSIX shell script that checks it and the spec of the Job that
 * runs it in the cluster (the stack's smoke Job, components/smokeTest.ts, and the one-off Job of
 * an emergency rollback, release/emergency.ts); tests run the same script against a loopback
 * server. Pure, no Pulumi.
 */

import { nodePlacement, PodPlacement, pullPolicy } from "./podPlacement";

/** The apps a check can address; each color has a Service per app (components/blueGreenApp.ts). */
export const smokeApps = ["api", "web"] as const;
export type SmokeApp = (typeof smokeApps)[number];

/** One request of a smoke test: `GET <app's color Service><path>` must answer `status`. */
export interface SmokeCheck {
    app: SmokeApp;
    path: string;
    status: number;
}

/** The environment variable holding an app's base URL in the smoke Job, e.g. `http://physioflow-api-green:7011`. */
export function smokeUrlVariable(app: SmokeApp): string {
    return `PHYSIOFLOW_${app.toUpperCase()}_URL`;
}

// Nothing the shell would interpret: no quotes, spaces, `$` or backquotes.
const pathPattern = /^\/[A-Za-z0-9._~/?=&%:+,@-]*$/;

/**
 * Parses `app:path=status,...` (e.g. `api:/health=200,web:/=200,api:/api/patients=401`).
 * Throws an Error whose message says what is wrong with which entry.
 */
export function parseSmokeChecks(text: string): SmokeCheck[] {
    const entries = text
        .split(",")
        .map(entry => entry.trim())
        .filter(entry => entry !== "");
    if (entries.length === 0) throw new Error("list at least one check as app:path=status, e.g. api:/health=200");
    return entries.map(entry => {
        const match = /^([a-z]+):(\S+)=(\d{3})$/.exec(entry);
        if (!match) throw new Error(`"${entry}" is not app:path=status, e.g. api:/health=200`);
        const [, app, path, status] = match;
        if (!(smokeApps as readonly string[]).includes(app)) {
            throw new Error(`"${entry}" names app "${app}"; apps: ${smokeApps.join(", ")}`);
        }
        if (!pathPattern.test(path)) throw new Error(`"${entry}" has a path that is not a plain URL path starting with /`);
        const code = Number(status);
        if (code < 100 || code > 599) throw new Error(`"${entry}" expects status ${status}, not an HTTP status`);
        return { app: app as SmokeApp, path, status: code };
    });
}

/**
 * The smoke Job's variable holding this stack's `apiUrl`: the `NEXT_PUBLIC_API_URL` the web color's
 * build must have baked in (components/appEnvironment.ts `webEnvironment`).
 */
export const webApiUrlVariable = "PHYSIOFLOW_WEB_API_URL";

/**
 * The web build check: reads the web color's page (`$PHYSIOFLOW_WEB_URL/`) and every
 * `/_next/static/chunks/*.js` it names, and refuses, in one `FAIL` line, a build whose baked
 * `NEXT_PUBLIC_API_URL` is not {@link webApiUrlVariable}: a chunk that names it with another value
 * (`"NEXT_PUBLIC_API_URL":"…"`, as the stand-in and an env object in a bundle do), or chunks none
 * of which holds this stack's URL (Next.js inlines the value as a bare string). An image built for
 * another environment never passes. POSIX sh, curl, tr, grep, sort and awk (busybox has them all).
 */
function webBuildCheck(attempts: number): string[] {
    const refuse = (why: string) => `echo "FAIL ${why}"; failed=1; return 0`;
    return [
        "fetch() {",
        "  attempt=1",
        "  while :; do",
        '    if body=$(curl -fsS --max-time 10 "$1" 2>/dev/null); then printf \'%s\\n\' "$body"; return 0; fi',
        `    if [ "$attempt" -ge ${attempts} ]; then return 1; fi`,
        "    attempt=$((attempt + 1)); sleep 2",
        "  done",
        "}",
        "web_build() {",
        `  base="\${PHYSIOFLOW_WEB_URL:-}"; want="\${${webApiUrlVariable}:-}"`,
        `  if [ -z "$base" ] || [ -z "$want" ]; then ${refuse(`web build: PHYSIOFLOW_WEB_URL and ${webApiUrlVariable} must both be set`)}; fi`,
        `  if ! page=$(fetch "$base/"); then ${refuse("$base/: no page to read the web build's NEXT_PUBLIC_API_URL from")}; fi`,
        "  chunks=$(printf '%s\\n' \"$page\" | tr \"\\\"' <>=\" '\\n\\n\\n\\n\\n\\n' | grep '^/_next/static/chunks/[A-Za-z0-9._~/@%+-]*\\.js$' | sort -u)",
        `  if [ -z "$chunks" ]; then ${refuse("$base/: the page names no /_next/static/chunks/*.js to read NEXT_PUBLIC_API_URL from")}; fi`,
        "  found=0",
        "  for chunk in $chunks; do",
        `    if ! body=$(fetch "$base$chunk"); then ${refuse("$base$chunk: not served, though the page names it")}; fi`,
        "    for baked in $(printf '%s\\n' \"$body\" | tr '\"' '\\n' | awk 'p2 == \"NEXT_PUBLIC_API_URL\" && p1 == \":\" { print } { p2 = p1; p1 = $0 }'); do",
        `      if [ "$baked" != "$want" ]; then ${refuse("web build: $base$chunk has NEXT_PUBLIC_API_URL=$baked baked in, not this stack's $want: an image built for another environment")}; fi`,
        "    done",
        '    case "$body" in *"$want"*) found=1 ;; esac',
        "  done",
        `  if [ "$found" -ne 1 ]; then ${refuse("web build: no chunk of $base/ holds this stack's NEXT_PUBLIC_API_URL $want: an image built for another environment")}; fi`,
        '  echo "ok   $base/: built with this stack\'s NEXT_PUBLIC_API_URL $want"',
        "}",
    ];
}

/**
 * The smoke test as a POSIX sh script using curl: each check is tried up to `attempts` times
 * (2 s apart), one line per check; then the web build check (the web color must have this
 * stack's `NEXT_PUBLIC_API_URL` baked in, {@link webApiUrlVariable}); exit 1 when any failed.
 * Base URLs come from the {@link smokeUrlVariable} variables.
 */
export function smokeScript(checks: readonly SmokeCheck[], attempts = 3): string {
    const lines = [
        "set -u",
        // Values read from the network are split into words, never expanded as file names.
        "set -f",
        "failed=0",
        "check() {",
        '  url="$1$2"; expected="$3"; attempt=1',
        "  while :; do",
        `    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url") || true`,
        '    if [ "$code" = "$expected" ]; then echo "ok   $url: $code"; return 0; fi',
        `    if [ "$attempt" -ge ${attempts} ]; then echo "FAIL $url: got \${code:-no answer}, expected $expected (after $attempt attempts)"; failed=1; return 0; fi`,
        "    attempt=$((attempt + 1)); sleep 2",
        "  done",
        "}",
        ...checks.map(c => `check "$${smokeUrlVariable(c.app)}" '${c.path}' ${c.status}`),
        ...webBuildCheck(attempts),
        "web_build",
        'if [ "$failed" -ne 0 ]; then echo "smoke test failed"; exit 1; fi',
        'echo "smoke test passed"',
    ];
    return `${lines.join("\n")}\n`;
}

/** The `app` label of a smoke Job and its pod (with `version: <color>`). */
export const smokeAppLabel = "physioflow-smoke";

/** Seconds a smoke Job may run before it counts as failed, unless set. */
export const defaultSmokeTimeoutSeconds = 120;

/** What a color's smoke Job runs with: plain values, or the program's `pulumi.Input`s passed through. */
export interface SmokeJobValues<T> {
    color: string;
    /** The color's image tag (annotation `physioflow/tag` and `PHYSIOFLOW_TAG`). */
    tag: T;
    /** The database's migration version (annotation `physioflow/migration-version` and `PHYSIOFLOW_MIGRATION_VERSION`). */
    migrationVersion: T;
    /** The color's ConfigMaps' and Secret's names (annotation `physioflow/release`). */
    release: T;
    /** Image with POSIX sh and curl. */
    image: string;
    checks: readonly SmokeCheck[];
    /** Base URL of each app's Service of this color. */
    urls: Record<SmokeApp, T>;
    /** This stack's `apiUrl`: the `NEXT_PUBLIC_API_URL` the web color must have baked in ({@link webApiUrlVariable}). */
    webApiUrl: T;
    /** Seconds the Job may run before it counts as failed. */
    timeoutSeconds: number;
    /** Where the pod runs and its image's pull policy: the stack's, as for the colors' pods it checks. Default: Kubernetes'. */
    pods?: PodPlacement;
}

/**
 * The spec of a color's smoke Job: one run decides (`backoffLimit` 0, the script retries each
 * check itself), the pod labelled `app: physioflow-smoke, version: <color>`, the checks' script
 * with each app's URL in {@link smokeUrlVariable} and the stack's API URL, which the web build
 * must have baked in, in {@link webApiUrlVariable}; placed on the colors' nodes when the stack
 * places them (`pods`). Pure.
 */
export function smokeJobSpec<T>(values: SmokeJobValues<T>) {
    const labels = { app: smokeAppLabel, version: values.color };
    return {
        // One run decides; the script retries each check itself.
        backoffLimit: 0,
        activeDeadlineSeconds: values.timeoutSeconds,
        template: {
            metadata: {
                labels,
                annotations: {
                    "physioflow/tag": values.tag,
                    "physioflow/migration-version": values.migrationVersion,
                    "physioflow/release": values.release,
                },
            },
            spec: {
                restartPolicy: "Never",
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                ...nodePlacement(values.pods),
                containers: [
                    {
                        name: "smoke",
                        image: values.image,
                        ...pullPolicy(values.pods),
                        command: ["/bin/sh", "-c", smokeScript(values.checks)],
                        // A failed run's FAIL lines kept in the pod's status, readable without the node's log (release/smokeFailures.ts).
                        terminationMessagePolicy: "FallbackToLogsOnError",
                        env: [
                            ...(Object.keys(values.urls) as SmokeApp[]).map(app => ({ name: smokeUrlVariable(app), value: values.urls[app] })),
                            { name: "PHYSIOFLOW_TAG", value: values.tag },
                            { name: "PHYSIOFLOW_MIGRATION_VERSION", value: values.migrationVersion },
                            { name: webApiUrlVariable, value: values.webApiUrl },
                        ],
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ["ALL"] } },
                    },
                ],
            },
        },
    };
}
