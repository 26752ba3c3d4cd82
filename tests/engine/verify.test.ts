/**
 * `verify` (release/verify.ts) against a stack deployed by the real engine to a real control plane
 * and a real PostgreSQL migrated by the repository's migrations: every check passing, and each one
 * failing for the reason it exists (a health check failing inside the cluster, a database ahead of
 * the stack, a hand-edited ConfigMap, a missing table, no database settings), then the command.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PassThrough } from "stream";
import { ConnectionSettings } from "../../database/connection";
import { UsageError } from "../../database/errors";
import { migrateUp } from "../../database/migrations/runner";
import type { ReleaseIo } from "../../release/cli";
import { Kubectl } from "../../release/clusterState";
import { ReleaseDatabase, ReleaseTarget } from "../../release/types";
import { verifyCommand } from "../../release/cli";
import { verify, verifyComponentLabel, VerifyResult } from "../../release/verify";
import { Cluster } from "../../devenv/cluster";
import { failingPodStage } from "../support/clusterFaults";
import { createTestClusterStack, TestClusterStack } from "../support/engine";
import { removeSuiteNamespace, sharedCluster, suiteNamespace } from "../support/sharedCluster";
import { freshDatabase, TestDatabase } from "../support/postgres";

const namespace = suiteNamespace("verifytest");
const migrationsDir = path.resolve(__dirname, "..", "..", "migrations");
// The version the stack records in its migration-version ConfigMap (clusterProgram takes migrationTarget).
const stackVersion = "005";
const allMainTables = ["therapists", "patients", "appointments", "checklist_templates", "visit_checklists", "soap_notes", "bhyt_insurance_cards", "audit_logs"];

describe("verify: the post-deployment checks on the real engine, a real control plane and a real PostgreSQL", function () {
    let cluster: Cluster;
    let s: TestClusterStack;
    let database: TestDatabase;
    let backupDir: string;
    // Every Job verify creates, as it sent it to the API server.
    const createdJobs: any[] = [];
    const kubectl: Kubectl = (args, input) => {
        if (args[0] === "create" && input !== undefined) createdJobs.push(JSON.parse(input));
        return cluster.kubectl(args, input);
    };
    const releaseDatabase = (connection: ConnectionSettings): ReleaseDatabase => ({
        connection,
        migrationsDir,
        backupDir,
        environment: "local",
        migrationTarget: stackVersion,
        migratesOutsideStack: true,
    });
    const targetOn = (db?: TestDatabase): ReleaseTarget => ({
        stack: s.stack,
        kubectl,
        namespace,
        ...(db !== undefined ? { database: releaseDatabase(db.connection) } : {}),
    });
    const migratedDatabase = async (to: string) => {
        const db = await freshDatabase("verify");
        await migrateUp({ dir: migrationsDir, connection: db.connection, to });
        return db;
    };
    const check = (result: VerifyResult, name: string) => result.checks.find(c => c.name === name)!;
    const lastJob = () => createdJobs[createdJobs.length - 1];
    // The Job is deleted right away, its pods by the garbage collector a moment later.
    const noVerifyJobLeft = async () => {
        assert.strictEqual(await cluster.kubectl(["get", "jobs", "-n", namespace, "-l", "app.kubernetes.io/component=verify", "-o", "name"]), "");
        const deadline = Date.now() + 30_000;
        let pods = "";
        while (Date.now() < deadline) {
            pods = await cluster.kubectl(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=verify", "-o", "name"]);
            if (pods === "") return;
            await new Promise(resolve => setTimeout(resolve, 500));
        }
        assert.fail(`the verify Job's pods are still there: ${pods}`);
    };

    before(async function () {
        this.timeout(60 * 60 * 1000); // builds what is missing first
        backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-verify-backups-"));
        cluster = await sharedCluster();
        s = await createTestClusterStack("verifytest", { kubeconfig: cluster.kubeconfigPath, namespace });
        await s.set({ migrationTarget: stackVersion });
        await s.up(); // blue live with v1.0.0, green scaled down
        database = await migratedDatabase(stackVersion);
        const client = await database.connect();
        try {
            await client.query("INSERT INTO patients (patient_code, full_name) VALUES ('P1', 'An'), ('P2', 'Binh'), ('P3', 'Chi')");
        } finally {
            await client.end();
        }
    });
    after(async () => {
        await s?.remove();
        await removeSuiteNamespace(cluster, namespace);
        if (backupDir) fs.rmSync(backupDir, { recursive: true, force: true });
    });
    beforeEach(() => {
        createdJobs.length = 0;
    });

    it("all green: pods ready, health through the live Services from a Job in the cluster, versions agreeing, exact row counts; the Job deleted", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        const result = await verify(targetOn(database), { out: line => lines.push(line) });
        assert.deepStrictEqual(
            result,
            {
                ok: true,
                checks: [
                    { name: "pods ready", ok: true, detail: "physioflow-api-blue 1/1 ready, physioflow-web-blue 1/1 ready" },
                    { name: "health", ok: true, detail: "2 check(s) through physioflow-api, physioflow-web" },
                    { name: "migration version", ok: true, detail: "database 005, ConfigMap migration-version 005, stack output 005" },
                    { name: "row counts", ok: true, detail: allMainTables.map(table => `${table} ${table === "patients" ? 3 : 0}`).join(", ") },
                ],
            },
            lines.join("\n"),
        );
        // One Job, aimed at the live Services' DNS names and the ports they declare.
        assert.strictEqual(createdJobs.length, 1);
        assert.match(lastJob().metadata.name, /^physioflow-verify-[0-9a-f]{6}$/);
        assert.deepStrictEqual(
            lastJob().spec.template.spec.containers.map((c: any) => [c.name, c.env]),
            [
                [
                    "live",
                    [
                        { name: "PHYSIOFLOW_API_URL", value: "http://physioflow-api:7011" },
                        { name: "PHYSIOFLOW_WEB_URL", value: "http://physioflow-web:3000" },
                    ],
                ],
            ],
        );
        assert.deepStrictEqual(lines, [`health: Job ${lastJob().metadata.name} checks physioflow-api, physioflow-web`]);
        await noVerifyJobLeft();
    });

    it("a health check failing inside the cluster: the line names the Job; the Job is deleted", async function () {
        this.timeout(3 * 60 * 1000);
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-verify-fails", namespace, verifyComponentLabel));
        try {
            const lines: string[] = [];
            const result = await verify(targetOn(database), { out: line => lines.push(line) });
            assert.strictEqual(result.ok, false);
            const name = lastJob().metadata.name;
            const health = check(result, "health");
            assert.strictEqual(health.ok, false);
            assert.ok(health.detail.startsWith(`Job ${name} failed checking physioflow-api, physioflow-web; `), health.detail);
            assert.ok(health.detail.includes(`kubectl logs job/${name} -n ${namespace} --all-containers`), health.detail);
            assert.deepStrictEqual(
                result.checks.filter(c => !c.ok).map(c => c.name),
                ["health"],
            );
            // Its log is read before the Job goes (kwok keeps no container logs, so here it says it could not be read).
            assert.strictEqual(lines[0], `health: Job ${name} checks physioflow-api, physioflow-web`);
            assert.ok(lines.length > 1 && lines.slice(1).every(line => line.startsWith("health: ")), lines.join("\n"));
            await noVerifyJobLeft();
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-verify-fails"]);
        }
    });

    it("a database ahead of the stack (one more migration applied) is flagged", async function () {
        this.timeout(3 * 60 * 1000);
        const ahead = await migratedDatabase("006");
        const result = await verify(targetOn(ahead));
        assert.strictEqual(result.ok, false);
        assert.deepStrictEqual(check(result, "migration version"), {
            name: "migration version",
            ok: false,
            detail: "database 006, ConfigMap migration-version 005, stack output 005",
        });
        assert.deepStrictEqual(
            result.checks.filter(c => !c.ok).map(c => c.name),
            ["migration version"],
        );
    });

    it("a hand-edited migration-version ConfigMap is flagged", async function () {
        this.timeout(3 * 60 * 1000);
        const patch = (version: string) =>
            cluster.kubectl(["patch", "configmap", "migration-version", "-n", namespace, "--type", "merge", "-p", JSON.stringify({ data: { version } })]);
        await patch("004");
        try {
            const result = await verify(targetOn(database));
            assert.deepStrictEqual(check(result, "migration version"), {
                name: "migration version",
                ok: false,
                detail: "database 005, ConfigMap migration-version 004, stack output 005",
            });
            assert.strictEqual(result.ok, false);
        } finally {
            await patch(stackVersion);
        }
    });

    it("a missing main table is flagged, the others still counted", async function () {
        this.timeout(3 * 60 * 1000);
        const broken = await migratedDatabase(stackVersion);
        const client = await broken.connect();
        try {
            await client.query("DROP TABLE soap_notes CASCADE");
        } finally {
            await client.end();
        }
        const result = await verify(targetOn(broken));
        assert.deepStrictEqual(check(result, "row counts"), {
            name: "row counts",
            ok: false,
            detail: `missing: soap_notes, ${allMainTables
                .filter(table => table !== "soap_notes")
                .map(table => `${table} 0`)
                .join(", ")}`,
        });
        assert.deepStrictEqual(
            result.checks.filter(c => !c.ok).map(c => c.name),
            ["row counts"],
        );
    });

    it("no database settings: the database checks fail saying so; the cluster checks still run", async function () {
        this.timeout(3 * 60 * 1000);
        const result = await verify(targetOn(undefined));
        assert.strictEqual(result.ok, false);
        assert.deepStrictEqual(
            result.checks.map(c => [c.name, c.ok]),
            [
                ["pods ready", true],
                ["health", true],
                ["migration version", false],
                ["row counts", false],
            ],
        );
        assert.strictEqual(
            check(result, "migration version").detail,
            "database: not reachable by this command (no connection settings); ConfigMap migration-version 005, stack output 005",
        );
        assert.strictEqual(check(result, "row counts").detail, "database: not reachable by this command (no connection settings)");
    });

    it("a warm inactive color: its pods and the preview Services are checked too", async function () {
        this.timeout(5 * 60 * 1000);
        await s.set({ inactiveWarm: "true" });
        await s.up();
        const result = await verify(targetOn(database));
        assert.deepStrictEqual(result.checks.slice(0, 2), [
            {
                name: "pods ready",
                ok: true,
                detail: "physioflow-api-blue 1/1 ready, physioflow-web-blue 1/1 ready, physioflow-api-green 1/1 ready, physioflow-web-green 1/1 ready",
            },
            { name: "health", ok: true, detail: "2 check(s) through physioflow-api, physioflow-web, physioflow-api-preview, physioflow-web-preview" },
        ]);
        assert.deepStrictEqual(
            lastJob().spec.template.spec.containers.map((c: any) => [c.name, c.env.map((e: any) => e.value)]),
            [
                ["live", ["http://physioflow-api:7011", "http://physioflow-web:3000"]],
                ["preview", ["http://physioflow-api-preview:7011", "http://physioflow-web-preview:3000"]],
            ],
        );
        assert.strictEqual(result.ok, true);
        await noVerifyJobLeft();
    });

    describe("the command", () => {
        const io = () => {
            const stdout = new PassThrough();
            const stderr = new PassThrough();
            const text = (stream: PassThrough) => () => String(stream.read() ?? "");
            const full: ReleaseIo = { stdout, stderr, stdin: new PassThrough(), repoRoot: path.resolve(__dirname, "..", "..") };
            return { io: full, stdout: text(stdout), stderr: text(stderr) };
        };
        const opened: string[] = [];
        let closed = 0;
        const open = (db?: TestDatabase) => async (stackName: string) => {
            opened.push(stackName);
            return {
                target: targetOn(db),
                close: async () => {
                    closed++;
                },
            };
        };
        beforeEach(() => {
            opened.length = 0;
            closed = 0;
        });

        it("bad input is a UsageError of one line, before any stack is opened; --help prints the usage", async () => {
            await assert.rejects(
                verifyCommand(["verifytest", "--bogus"], io().io, open(database)),
                (error: Error) => error instanceof UsageError && error.message === "unknown option --bogus; see physioflow verify --help",
            );
            await assert.rejects(
                verifyCommand([], io().io, open(database)),
                (error: Error) => error instanceof UsageError && error.message === "verify needs a stack: physioflow verify <stack>",
            );
            assert.deepStrictEqual(opened, []);
            const help = io();
            assert.strictEqual(await verifyCommand(["--help"], help.io, open(database)), 0);
            assert.match(help.stdout(), /^usage: physioflow verify <stack> \[--json\]\n/);
        });

        it("--json: the result as JSON, exit 0 when every check passed; the target closed", async function () {
            this.timeout(3 * 60 * 1000);
            const run = io();
            assert.strictEqual(await verifyCommand(["verifytest", "--json"], run.io, open(database)), 0, run.stderr());
            const printed = JSON.parse(run.stdout());
            assert.strictEqual(printed.ok, true);
            assert.deepStrictEqual(
                printed.checks.map((c: any) => c.name),
                ["pods ready", "health", "migration version", "row counts"],
            );
            assert.ok(
                printed.lines.every((line: string) => line.startsWith(" ")),
                printed.lines.join("\n"),
            );
            assert.deepStrictEqual([opened, closed], [["verifytest"], 1]);
        });

        it("exit 1 and the failed lines flagged with ! when a check fails", async function () {
            this.timeout(3 * 60 * 1000);
            const run = io();
            assert.strictEqual(await verifyCommand(["verifytest"], run.io, open(undefined)), 1);
            const lines = run.stdout().trimEnd().split("\n");
            assert.deepStrictEqual(
                lines.map(line => line.slice(0, 20)),
                ["  pods ready        ", "  health            ", "! migration version ", "! row counts        "],
            );
            assert.strictEqual(closed, 1);
        });
    });
});
