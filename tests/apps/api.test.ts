/**
 * The API stand-in (devenv/apps/api) as a process on loopback against the real PostgreSQL the tests
 * share: /health with the color's own login and the migration it needs, /metrics' counters, /version,
 * the fault switches, graceful shutdown on SIGTERM and refused settings.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import { Client } from "pg";
import { CREATE_HISTORY_TABLE } from "../../database/migrations/history";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { freshDatabase, TestDatabase } from "../support/postgres";
import { StandInProcess, startStandIn } from "../support/standInProcess";

describe("the API stand-in", function () {
    let apps: StandInApps;
    let db: TestDatabase;
    let admin: Client;
    const login = { user: `standin_blue_${process.pid}`, password: crypto.randomBytes(12).toString("hex") };
    const started: StandInProcess[] = [];

    /** The environment the program's Deployment gives the API (components/appEnvironment.ts, the color's Secret), plus `extra`. */
    const podEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
        APP_ENV: "test",
        DATABASE_HOST: db.connection.host,
        DATABASE_PORT: String(db.connection.port),
        DATABASE_NAME: db.name,
        DATABASE_USER: login.user,
        POSTGRES_PASSWORD: login.password,
        DATABASE_SSLMODE: "disable",
        ...extra,
    });
    const start = async (extra: Record<string, string> = {}) => {
        const api = await startStandIn(apps.bin.api, podEnv(extra));
        started.push(api);
        return api;
    };
    const get = async (api: StandInProcess, path: string) => {
        const response = await fetch(`${api.url}${path}`);
        return { status: response.status, body: await response.text() };
    };

    before(async function () {
        apps = await standInApps();
        db = await freshDatabase("standin_api");
        admin = await db.connect();
        await admin.query(`CREATE ROLE ${login.user} LOGIN PASSWORD '${login.password}'`);
        await admin.query(CREATE_HISTORY_TABLE);
        await admin.query(`GRANT SELECT ON schema_migrations TO ${login.user}`);
        await admin.query("INSERT INTO schema_migrations (version, name) VALUES ('005', 'five'), ('006', 'six')");
    });
    afterEach(() => started.splice(0).forEach(api => api.kill()));
    after(async () => {
        await admin?.query(`DROP OWNED BY ${login.user}`);
        await admin?.query(`DROP ROLE IF EXISTS ${login.user}`);
        await admin?.end();
    });

    it("/health: 200 with the color's login and the migration it needs; 503 without it, and 200 again once it is applied", async () => {
        const api = await start({ REQUIRED_MIGRATION_VERSION: "007" });
        const missing = await get(api, "/health");
        assert.strictEqual(missing.status, 503, missing.body);
        assert.match(missing.body, /migration 007 is required; the database has 006/);
        await admin.query("INSERT INTO schema_migrations (version, name) VALUES ('007', 'seven')");
        try {
            const healthy = await get(api, "/health");
            assert.strictEqual(healthy.status, 200, healthy.body);
            assert.deepStrictEqual(JSON.parse(healthy.body), { status: "ok", database: "ok", migration: "007" });
        } finally {
            await admin.query("DELETE FROM schema_migrations WHERE version = '007'");
        }
    });

    it("/health: 503 with a wrong password, and with a login the server does not know", async () => {
        const logins: Record<string, string>[] = [{ POSTGRES_PASSWORD: "not-the-password" }, { DATABASE_USER: "emr_nobody" }];
        for (const extra of logins) {
            const api = await start(extra);
            const health = await get(api, "/health");
            assert.strictEqual(health.status, 503, health.body);
            assert.match(health.body, /password authentication failed/);
        }
    });

    it("/health: 503 when schema_migrations is missing and a version is required; 200 when none is", async () => {
        await admin.query("ALTER TABLE schema_migrations RENAME TO schema_migrations_away");
        try {
            const strict = await get(await start({ REQUIRED_MIGRATION_VERSION: "001" }), "/health");
            assert.strictEqual(strict.status, 503, strict.body);
            assert.match(strict.body, /schema_migrations/);
            const plain = await get(await start(), "/health");
            assert.strictEqual(plain.status, 200, plain.body);
        } finally {
            await admin.query("ALTER TABLE schema_migrations_away RENAME TO schema_migrations");
        }
    });

    it("/metrics counts answers by code (probes and scrapes not counted); /version says tag, color and environment", async () => {
        const api = await start({ APP_VERSION: "v1.2.3", APP_COLOR: "green" });
        const version = await get(api, "/version");
        assert.deepStrictEqual(JSON.parse(version.body), { version: "v1.2.3", color: "green", environment: "test" });
        await get(api, "/");
        await get(api, "/nowhere");
        await get(api, "/nowhere");
        await get(api, "/health");
        await get(api, "/metrics");
        const metrics = await get(api, "/metrics");
        const counters = metrics.body.split("\n").filter(line => line.startsWith("http_requests_total"));
        assert.deepStrictEqual(counters, ['http_requests_total{code="200"} 2', 'http_requests_total{code="404"} 2'], metrics.body);
        assert.match(metrics.body, /^# TYPE http_requests_total counter$/m);
    });

    it("FAULT=5xx answers 500 on every path but /health and /metrics; FAULT=unhealthy fails only /health", async () => {
        const failing = await start({ FAULT: "5xx" });
        assert.strictEqual((await get(failing, "/version")).status, 500);
        assert.strictEqual((await get(failing, "/")).status, 500);
        assert.strictEqual((await get(failing, "/health")).status, 200);
        assert.match((await get(failing, "/metrics")).body, /^http_requests_total\{code="500"\} 2$/m);

        const unhealthy = await start({ FAULT: "unhealthy" });
        const health = await get(unhealthy, "/health");
        assert.strictEqual(health.status, 503);
        assert.match(health.body, /FAULT=unhealthy/);
        assert.strictEqual((await get(unhealthy, "/version")).status, 200);
    });

    it("FAULT_AFTER_REQUESTS=N holds the fault back until N requests were answered (probes and scrapes not counted): healthy at its smoke test, failing under traffic", async () => {
        const unhealthy = await start({ FAULT: "unhealthy", FAULT_AFTER_REQUESTS: "3" });
        for (let i = 0; i < 4; i++) assert.strictEqual((await get(unhealthy, "/health")).status, 200);
        await get(unhealthy, "/metrics");
        assert.strictEqual((await get(unhealthy, "/version")).status, 200);
        assert.strictEqual((await get(unhealthy, "/health")).status, 200);
        await get(unhealthy, "/");
        await get(unhealthy, "/version");
        assert.strictEqual((await get(unhealthy, "/health")).status, 503);

        const failing = await start({ FAULT: "5xx", FAULT_AFTER_REQUESTS: "2" });
        const codes = [];
        for (let i = 0; i < 4; i++) codes.push((await get(failing, "/version")).status);
        assert.deepStrictEqual(codes, [200, 200, 500, 500]);
        assert.strictEqual((await get(failing, "/health")).status, 200);
    });

    it("SIGTERM during a slow request: new connections are refused, the request in flight is answered, exit 0", async () => {
        const api = await start({ RESPONSE_DELAY_MS: "1500" });
        const startedAt = Date.now();
        const inFlight = get(api, "/version");
        await new Promise(resolve => setTimeout(resolve, 300));
        api.child.kill("SIGTERM");
        await new Promise(resolve => setTimeout(resolve, 200));
        await assert.rejects(fetch(`${api.url}/`), (error: Error & { cause?: { code?: string } }) => error.cause?.code === "ECONNREFUSED");
        const answered = await inFlight;
        assert.strictEqual(answered.status, 200, answered.body);
        assert.ok(Date.now() - startedAt >= 1500, "answered only after its delay");
        assert.strictEqual(await api.exited, 0, api.log());
        assert.match(api.log(), /SIGTERM|terminated: no new connections/);
        assert.match(api.log(), /stopped/);
    });

    it("refuses to start without its login or with a fault it does not know, in one line naming the variable", () => {
        const cases: [Record<string, string>, RegExp][] = [
            [{ POSTGRES_PASSWORD: "" }, /error: POSTGRES_PASSWORD is not set/],
            [{ FAULT: "slow" }, /error: FAULT is "slow"; it must be unhealthy, 5xx or empty/],
            [{ REQUIRED_MIGRATION_VERSION: "7" }, /error: REQUIRED_MIGRATION_VERSION is "7"/],
            [{ FAULT_AFTER_REQUESTS: "10" }, /error: FAULT_AFTER_REQUESTS is 10 but FAULT is not set/],
            [{ FAULT: "5xx", FAULT_AFTER_REQUESTS: "-1" }, /error: FAULT_AFTER_REQUESTS is "-1"/],
            [{ PORT: "http" }, /error: PORT is "http"/],
        ];
        for (const [extra, message] of cases) {
            const run = spawnSync(apps.bin.api, [], { env: { ...podEnv(), ...extra }, encoding: "utf8", timeout: 10000 });
            assert.strictEqual(run.status, 1, run.stderr);
            assert.strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
            assert.match(run.stderr, message);
        }
    });
});
