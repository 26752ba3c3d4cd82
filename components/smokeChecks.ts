/**
 * What a smoke test checks, and the POSIX shell script that checks it (run by the smoke Job in
 * the cluster; tests run the same script against a loopback server). Pure, no Pulumi.
 */

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
 * The smoke test as a POSIX sh script using curl: each check is tried up to `attempts` times
 * (2 s apart), one line per check, exit 1 when any check failed. Base URLs come from the
 * {@link smokeUrlVariable} variables.
 */
export function smokeScript(checks: readonly SmokeCheck[], attempts = 3): string {
    const lines = [
        "set -u",
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
        'if [ "$failed" -ne 0 ]; then echo "smoke test failed"; exit 1; fi',
        'echo "smoke test passed"',
    ];
    return `${lines.join("\n")}\n`;
}
