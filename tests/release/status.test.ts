import * as assert from "assert";
import { settingsDigest, stackColorSettings } from "../../components/colorSettings";
import { describeBackupStore } from "../../components/backupStore";
import { parseStackConfig } from "../../components/config";
import { formatStatus, StackStatus } from "../../release/status";
import { stackFileConfig } from "../support/programRun";

const healthy = (): StackStatus => ({
    settings: { activeColor: "green", tags: { blue: "v1", green: "v2" }, inactiveWarm: true, replicas: 1 },
    outputs: { activeColor: "green", tags: { blue: "v1", green: "v2" }, migrationVersion: "006", lastBackup: "/backups/prod_pre-migrate-006.tar.gz" },
    cluster: {
        deployments: {
            "physioflow-api-green": { image: "r/physioflow-api:v2", replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, observed: true },
            "physioflow-api-blue": { image: "r/physioflow-api:v1", replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, observed: true },
            "physioflow-web-green": { image: "r/physioflow-web:v2", replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, observed: true },
            "physioflow-web-blue": { image: "r/physioflow-web:v1", replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, observed: true },
        },
        services: {
            "physioflow-api": { selector: { app: "physioflow-api", version: "green" }, readyPods: ["g"], readyColors: ["green"] },
            "physioflow-web": { selector: { app: "physioflow-web", version: "green" }, readyPods: ["w"], readyColors: ["green"] },
        },
        jobs: { "physioflow-smoke-green": { tag: "v2", migrationVersion: "006", status: "succeeded" } },
    },
    configMapVersion: "006",
});

describe("physioflow status lines", () => {
    it("a healthy stack: nothing flagged", () => {
        assert.deepStrictEqual(formatStatus(healthy()), [
            "  active color   green in the config",
            "  blue  tag      v1 (warm)",
            "  green tag      v2 (active)",
            "  deployment     physioflow-api-blue    1/1 ready  r/physioflow-api:v1",
            "  deployment     physioflow-api-green   1/1 ready  r/physioflow-api:v2",
            "  deployment     physioflow-web-blue    1/1 ready  r/physioflow-web:v1",
            "  deployment     physioflow-web-green   1/1 ready  r/physioflow-web:v2",
            "  live service   physioflow-api         selects green; 1 ready endpoint(s): green",
            "  live service   physioflow-web         selects green; 1 ready endpoint(s): green",
            "  smoke test     physioflow-smoke-green succeeded (v2, migration 006)",
            "  migration      006 in ConfigMap migration-version, 006 in the stack output",
            "  last backup    /backups/prod_pre-migrate-006.tar.gz",
            "  deploy         none in progress",
        ]);
    });

    it("flags what disagrees: a hand-patched Service, a pending switch, an unready active color, a failed smoke test, versions, a stale lock", () => {
        const status = healthy();
        status.outputs.activeColor = "blue";
        status.cluster.services["physioflow-api"] = { selector: { app: "physioflow-api", version: "blue" }, readyPods: ["b"], readyColors: ["blue"] };
        status.cluster.deployments["physioflow-api-green"].readyReplicas = 0;
        status.cluster.jobs["physioflow-smoke-green"].status = "failed";
        status.configMapVersion = "007";
        status.lock = { holder: "ops@laptop pid 9: deploy v2", since: "2026-11-29T03:00:00Z", stale: true };
        const flagged = formatStatus(status).filter(line => line.startsWith("!"));
        assert.deepStrictEqual(flagged, [
            "! active color   green in the config, blue in the last update's outputs (an update is pending or failed)",
            "! deployment     physioflow-api-green   0/1 ready  r/physioflow-api:v2",
            "! live service   physioflow-api         selects blue; 1 ready endpoint(s): blue (the config says green)",
            "! smoke test     physioflow-smoke-green failed (v2, migration 006)",
            "! migration      007 in ConfigMap migration-version, 006 in the stack output",
            "! deploy         abandoned (the next deploy or rollback takes its lock over): ops@laptop pid 9: deploy v2, since 2026-11-29T03:00:00Z",
        ]);
    });

    it("flags an active Deployment that is missing or not rolled out (the one readiness of release/clusterState.ts), not the inactive color's", () => {
        const status = healthy();
        status.cluster.deployments["physioflow-api-green"].updatedReplicas = 0;
        status.cluster.deployments["physioflow-api-blue"].readyReplicas = 0;
        delete status.cluster.deployments["physioflow-web-green"];
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!") || line.includes("deployment")),
            [
                "  deployment     physioflow-api-blue    0/1 ready  r/physioflow-api:v1",
                "! deployment     physioflow-api-green   1/1 ready  r/physioflow-api:v2 (0/1 updated)",
                "  deployment     physioflow-web-blue    1/1 ready  r/physioflow-web:v1",
                "! deployment     physioflow-web-green   missing",
            ],
        );
    });

    it("puts the database's migration version beside the others, and flags one that differs or cannot be read", () => {
        const status = healthy();
        status.database = { version: "006" };
        assert.ok(formatStatus(status).includes("  migration      006 in the database, 006 in ConfigMap migration-version, 006 in the stack output"));
        status.database = { version: "007" };
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            ["! migration      007 in the database, 006 in ConfigMap migration-version, 006 in the stack output"],
        );
        status.database = { error: "connect ECONNREFUSED 127.0.0.1:5432" };
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            ["! migration      database unreadable (connect ECONNREFUSED 127.0.0.1:5432), 006 in ConfigMap migration-version, 006 in the stack output"],
        );
    });

    it("says which colors run the stack's settings and which older ones (not a disagreement: the live color keeps its own until a release and a switch)", () => {
        const raw = (overrides: Record<string, string>) =>
            parseStackConfig({
                ...Object.fromEntries(Object.entries(stackFileConfig("prod")).map(([k, v]) => [k.replace(/^physioflow:/, ""), v])),
                ...overrides,
            });
        const old = stackColorSettings(raw({}));
        const current = stackColorSettings(raw({ keycloakUrl: "https://keycloak-2.example.test" }));
        const status = healthy();
        status.outputs.colorSettings = { blue: current, green: old };
        status.stackSettingsDigest = settingsDigest(current);
        const lines = formatStatus(status);
        assert.ok(lines.includes("  settings       blue: the stack's; green (active): older than the stack's"), lines.join("\n"));
        assert.ok(lines.every(line => !line.startsWith("!")));
        // Nothing recorded (a stack updated before per-color settings): no line.
        assert.ok(formatStatus(healthy()).every(line => !line.includes("settings ")));
    });

    it("says when a rollback left the migrations held, at which version, and what ends the hold (not a disagreement)", () => {
        const status = healthy();
        status.migrationsHeld = true;
        const lines = formatStatus(status);
        assert.ok(
            lines.includes(
                "  migrations     held at 006 (holdMigrations, set by a rollback): no update backs up or migrates until the next deploy's release step",
            ),
            lines.join("\n"),
        );
        assert.ok(lines.every(line => !line.startsWith("!")));
        assert.ok(formatStatus(healthy()).every(line => !line.includes("held")));
    });

    it("flags each unresolved alarm of the release record, and a record it cannot read", () => {
        const status = healthy();
        status.alarms = [
            {
                kind: "automatic-rollback-failed",
                at: "2026-12-06T20:00:00.000Z",
                text: "physioflow-prod: v2 on green: the automatic rollback to blue FAILED, act now: denied; green is live",
            },
        ];
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            [
                "! alarm          automatic-rollback-failed at 2026-12-06T20:00:00.000Z: physioflow-prod: v2 on green: the automatic rollback to blue FAILED, act now: denied; green is live; cleared by the next successful deploy or rollback",
            ],
        );
        status.alarms = { error: "ConfigMap physioflow-release in physioflow-prod holds no valid JSON" };
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            ["! alarms         the release record cannot be read: ConfigMap physioflow-release in physioflow-prod holds no valid JSON"],
        );
        status.alarms = [];
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            [],
        );
    });

    it("says where the stack's backups go, and flags a stack whose backups stay on one machine unless that is on purpose (backupLocalOnly)", () => {
        const raw = (overrides: Record<string, string | undefined>) =>
            parseStackConfig(
                Object.fromEntries(
                    Object.entries({
                        ...Object.fromEntries(Object.entries(stackFileConfig("prod")).map(([k, v]) => [k.replace(/^physioflow:/, ""), v])),
                        ...overrides,
                    }).filter((entry): entry is [string, string] => entry[1] !== undefined),
                ),
            );
        const status = healthy();
        status.backupStore = describeBackupStore(raw({}));
        assert.ok(
            formatStatus(status).includes(
                "  backup store   s3://physioflow-backups-prod/physioflow-backups/ at https://minio.trancloud.work (30 days), and $HOME/physioflow-backups/prod on the machine running pulumi up",
            ),
        );
        const noStore = { backupS3Endpoint: undefined, backupS3Bucket: undefined, backupS3Region: undefined };
        status.backupStore = describeBackupStore(raw({ ...noStore, environment: "staging" }));
        assert.deepStrictEqual(
            formatStatus(status).filter(line => line.startsWith("!")),
            [
                "! backup store   backups of staging stay in $HOME/physioflow-backups/staging on the machine running pulumi up, and nowhere else: no backupS3Endpoint is set " +
                    "(runbook appendix C: 30 days in the team's MinIO; set backupS3Endpoint and backupS3Bucket, or backupLocalOnly true)",
            ],
        );
        status.backupStore = describeBackupStore(raw({ ...noStore, backupLocalOnly: "true" }));
        assert.ok(
            formatStatus(status).includes(
                "  backup store   backups of prod stay in $HOME/physioflow-backups/prod on the machine running pulumi up, and nowhere else, on purpose (backupLocalOnly)",
            ),
        );
        // The local stack (npm run local, the engine tests' stacks) keeps its backups on this machine by nature: said, not flagged.
        status.backupStore = describeBackupStore(raw({ ...noStore, environment: "local" }));
        assert.ok(
            formatStatus(status).includes(
                "  backup store   backups of local stay in $HOME/physioflow-backups/local on the machine running pulumi up, and nowhere else (the local stack)",
            ),
            formatStatus(status).join("\n"),
        );
        // A config the program refuses: no line (the program says why).
        assert.ok(formatStatus(healthy()).every(line => !line.includes("backup store")));
    });
});
