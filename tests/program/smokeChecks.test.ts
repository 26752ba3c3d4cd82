import * as assert from "assert";
import { parseSmokeChecks, smokeApps, smokeJobSpec, smokeScript, smokeUrlVariable } from "../../components/smokeChecks";

/** parseSmokeChecks must refuse `text` with exactly `message`. */
function refused(text: string, message: string): void {
    assert.throws(
        () => parseSmokeChecks(text),
        (err: Error) => {
            assert.strictEqual(err.message, message);
            return true;
        },
    );
}

describe("smoke checks: parsing app:path=status", () => {
    it("names each app's URL variable after the app", () => {
        assert.deepStrictEqual(smokeApps, ["api", "web"]);
        assert.strictEqual(smokeUrlVariable("api"), "PHYSIOFLOW_API_URL");
        assert.strictEqual(smokeUrlVariable("web"), "PHYSIOFLOW_WEB_URL");
    });

    it("trims entries and skips empty ones, keeping their order", () => {
        assert.deepStrictEqual(parseSmokeChecks(" web:/=200 , ,api:/health=204,"), [
            { app: "web", path: "/", status: 200 },
            { app: "api", path: "/health", status: 204 },
        ]);
        refused(" , ,", "list at least one check as app:path=status, e.g. api:/health=200");
    });

    it("takes the last = as the status separator, so a query string may hold =", () => {
        assert.deepStrictEqual(parseSmokeChecks("api:/api/patients?page=1&sort=name=401"), [
            { app: "api", path: "/api/patients?page=1&sort=name", status: 401 },
        ]);
    });

    it("accepts the URL path characters the shell leaves alone", () => {
        const path = "/a-Z_0.9~/?q=1&r=%20:+@"; // "," separates entries
        assert.deepStrictEqual(parseSmokeChecks(`web:${path}=302`), [{ app: "web", path, status: 302 }]);
    });

    it("refuses anything around the app:path=status shape", () => {
        for (const entry of ["1api:/=200", "api:/=2001", "api:/=20", "api:/=abc", "Api:/=200", "api:=200", "api /:=200", ":/=200"]) {
            refused(entry, `"${entry}" is not app:path=status, e.g. api:/health=200`);
        }
    });

    it("refuses a path the shell would interpret, or one that does not start with /", () => {
        for (const entry of ["api:x/y=200", "api:/a;b=200", "api:/a$b=200", "api:/a`b=200", 'api:/a"b=200', "api:/a(b)=200", "api:/a*=200"]) {
            refused(entry, `"${entry}" has a path that is not a plain URL path starting with /`);
        }
    });

    it("accepts statuses 100 to 599 only", () => {
        assert.deepStrictEqual(
            parseSmokeChecks("api:/=100,api:/=599").map(c => c.status),
            [100, 599],
        );
        refused("api:/=099", '"api:/=099" expects status 099, not an HTTP status');
        refused("api:/=600", '"api:/=600" expects status 600, not an HTTP status');
    });

    it("refuses an app other than api and web, naming the apps", () => {
        refused("apis:/=200", '"apis:/=200" names app "apis"; apps: api, web');
    });
});

describe("smoke checks: the shell script", () => {
    it("is exactly this script: each check retried up to the given attempts, one line per check, then the web build check, exit 1 on any failure", () => {
        const script = smokeScript(
            [
                { app: "api", path: "/health", status: 200 },
                { app: "web", path: "/", status: 302 },
            ],
            5,
        );
        assert.strictEqual(
            script,
            [
                "set -u",
                "set -f",
                "failed=0",
                "check() {",
                '  url="$1$2"; expected="$3"; attempt=1',
                "  while :; do",
                "    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \"$url\") || true",
                '    if [ "$code" = "$expected" ]; then echo "ok   $url: $code"; return 0; fi',
                '    if [ "$attempt" -ge 5 ]; then echo "FAIL $url: got ${code:-no answer}, expected $expected (after $attempt attempts)"; failed=1; return 0; fi',
                "    attempt=$((attempt + 1)); sleep 2",
                "  done",
                "}",
                "check \"$PHYSIOFLOW_API_URL\" '/health' 200",
                "check \"$PHYSIOFLOW_WEB_URL\" '/' 302",
                "fetch() {",
                "  attempt=1",
                "  while :; do",
                '    if body=$(curl -fsS --max-time 10 "$1" 2>/dev/null); then printf \'%s\\n\' "$body"; return 0; fi',
                '    if [ "$attempt" -ge 5 ]; then return 1; fi',
                "    attempt=$((attempt + 1)); sleep 2",
                "  done",
                "}",
                "web_build() {",
                '  base="${PHYSIOFLOW_WEB_URL:-}"; want="${PHYSIOFLOW_WEB_API_URL:-}"',
                '  if [ -z "$base" ] || [ -z "$want" ]; then echo "FAIL web build: PHYSIOFLOW_WEB_URL and PHYSIOFLOW_WEB_API_URL must both be set"; failed=1; return 0; fi',
                '  if ! page=$(fetch "$base/"); then echo "FAIL $base/: no page to read the web build\'s NEXT_PUBLIC_API_URL from"; failed=1; return 0; fi',
                "  chunks=$(printf '%s\\n' \"$page\" | tr \"\\\"' <>=\" '\\n\\n\\n\\n\\n\\n' | grep '^/_next/static/chunks/[A-Za-z0-9._~/@%+-]*\\.js$' | sort -u)",
                '  if [ -z "$chunks" ]; then echo "FAIL $base/: the page names no /_next/static/chunks/*.js to read NEXT_PUBLIC_API_URL from"; failed=1; return 0; fi',
                "  found=0",
                "  for chunk in $chunks; do",
                '    if ! body=$(fetch "$base$chunk"); then echo "FAIL $base$chunk: not served, though the page names it"; failed=1; return 0; fi',
                "    for baked in $(printf '%s\\n' \"$body\" | tr '\"' '\\n' | awk 'p2 == \"NEXT_PUBLIC_API_URL\" && p1 == \":\" { print } { p2 = p1; p1 = $0 }'); do",
                '      if [ "$baked" != "$want" ]; then echo "FAIL web build: $base$chunk has NEXT_PUBLIC_API_URL=$baked baked in, not this stack\'s $want: an image built for another environment"; failed=1; return 0; fi',
                "    done",
                '    case "$body" in *"$want"*) found=1 ;; esac',
                "  done",
                '  if [ "$found" -ne 1 ]; then echo "FAIL web build: no chunk of $base/ holds this stack\'s NEXT_PUBLIC_API_URL $want: an image built for another environment"; failed=1; return 0; fi',
                '  echo "ok   $base/: built with this stack\'s NEXT_PUBLIC_API_URL $want"',
                "}",
                "web_build",
                'if [ "$failed" -ne 0 ]; then echo "smoke test failed"; exit 1; fi',
                'echo "smoke test passed"',
                "",
            ].join("\n"),
        );
    });

    it("tries each check 3 times unless told otherwise", () => {
        const script = smokeScript([{ app: "api", path: "/health", status: 200 }]);
        assert.ok(script.includes('if [ "$attempt" -ge 3 ]; then echo'), script);
        assert.ok(script.includes('if [ "$attempt" -ge 3 ]; then return 1; fi'), script);
    });
});

describe("smoke checks: the Job that runs them (the stack's and an emergency rollback's)", () => {
    it("runs the script once against the color's Services, labelled for its color, with what it tests annotated", () => {
        const checks = [{ app: "api" as const, path: "/health", status: 200 }];
        const spec = smokeJobSpec({
            color: "green",
            tag: "v1.2.0",
            migrationVersion: "007",
            release: "cm-api,cm-web,secret-green",
            image: "curlimages/curl:8.11.1",
            checks,
            urls: { api: "http://physioflow-api-green:7011", web: "http://physioflow-web-green:3000" },
            webApiUrl: "https://physioflow.example.test/api",
            timeoutSeconds: 120,
        });
        assert.strictEqual(spec.backoffLimit, 0);
        assert.strictEqual(spec.activeDeadlineSeconds, 120);
        assert.deepStrictEqual(spec.template.metadata.labels, { app: "physioflow-smoke", version: "green" });
        assert.deepStrictEqual(spec.template.metadata.annotations, {
            "physioflow/tag": "v1.2.0",
            "physioflow/migration-version": "007",
            "physioflow/release": "cm-api,cm-web,secret-green",
        });
        const [container] = spec.template.spec.containers;
        assert.deepStrictEqual(container.command, ["/bin/sh", "-c", smokeScript(checks)]);
        assert.deepStrictEqual(container.env, [
            { name: "PHYSIOFLOW_API_URL", value: "http://physioflow-api-green:7011" },
            { name: "PHYSIOFLOW_WEB_URL", value: "http://physioflow-web-green:3000" },
            { name: "PHYSIOFLOW_TAG", value: "v1.2.0" },
            { name: "PHYSIOFLOW_MIGRATION_VERSION", value: "007" },
            { name: "PHYSIOFLOW_WEB_API_URL", value: "https://physioflow.example.test/api" },
        ]);
        assert.strictEqual(spec.template.spec.restartPolicy, "Never");
        // A failed run's FAIL lines stay in the pod's status (release/smokeFailures.ts reads them there).
        assert.strictEqual(container.terminationMessagePolicy, "FallbackToLogsOnError");
        // Unplaced unless the stack places its pods.
        assert.ok(!("nodeSelector" in spec.template.spec) && !("tolerations" in spec.template.spec) && !("imagePullPolicy" in container));
    });
});
