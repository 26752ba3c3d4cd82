import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { startPostgres } from "../../local/postgresServer";

describe("a PostgreSQL kept in a data dir (npm run local)", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-kept-pg-"));
        fs.chmodSync(dir, 0o755); // as root the server runs as `postgres`, which must reach the data dir
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("keeps its data between a stop and the next start, and initdb runs only the first time", async () => {
        const dataDir = path.join(dir, "postgres", "data");
        const first = await startPostgres({ dataDir, user: "postgres", password: "first-password" });
        assert.strictEqual(first.created, true);
        const db = await first.createDatabase("kept");
        const client = await db.connect();
        await client.query("CREATE TABLE patients (name text); INSERT INTO patients VALUES ('Ada')");
        await client.end();
        await first.stop();
        assert.ok(fs.existsSync(path.join(dataDir, "PG_VERSION")), "the data dir was deleted on stop");
        assert.ok(!fs.existsSync(path.join(dataDir, "postmaster.pid")), "the server is still running");

        const second = await startPostgres({ dataDir, user: "postgres", password: "first-password" });
        try {
            assert.strictEqual(second.created, false);
            const again = new Client({ host: "127.0.0.1", port: second.port, user: "postgres", password: "first-password", database: "kept" });
            await again.connect();
            const { rows } = await again.query("SELECT name FROM patients");
            await again.end();
            assert.deepStrictEqual(rows, [{ name: "Ada" }]);
        } finally {
            await second.stop();
        }
        assert.ok(fs.existsSync(path.join(dir, "postgres", "server.log")), "no server log beside the data dir");
    });
});
