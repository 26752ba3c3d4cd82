/**
 * What each component registers as its outputs: the values `pulumi stack export` and the update's
 * details show for the component (its database and login names, the Secrets' engine-given names,
 * the applied migration, each app's active color and replicas). A component that registered
 * fewer or other outputs would still deploy; these are what a person reads when checking a stack.
 */
import * as assert from "assert";
import { runProgram, stackConfigWithSecrets } from "../support/programRun";

describe("the components' registered outputs", () => {
    it("dev: each component's names, versions, colors and replicas", async () => {
        const run = await runProgram("dev", stackConfigWithSecrets("dev"));
        const app = (name: string) => ({
            activeColor: "blue",
            deploymentNames: { blue: `${name}-blue`, green: `${name}-green` },
            liveServiceName: name,
            previewServiceName: `${name}-preview`,
            replicas: { blue: 1, green: 0 },
        });
        assert.deepStrictEqual(Object.fromEntries(run.componentOutputs), {
            "physioflow:db:AppDatabase/physioflow_dev": { databaseName: "physioflow_dev", user: "emr", colorUsers: { blue: "emr_blue", green: "emr_green" } },
            "physioflow:db:DatabaseRelease/physioflow_dev-release": { appliedVersion: "006", backupArchive: "/backups/dev_pre-deploy_20260101_000000.tar.gz" },
            "physioflow:k8s:AppNamespace/physioflow-dev": {
                name: "physioflow-dev",
                migrationVersion: "006",
                secretNames: { blue: "physioflow-secrets-blue-0a1b2c3d", green: "physioflow-secrets-green-0a1b2c3d" },
            },
            "physioflow:k8s:SmokeTest/physioflow-smoke-blue": { jobName: "physioflow-smoke-blue" },
            // No outputs: it only stands between a cut-short program and the stack's objects (components/stackGuard.ts).
            "physioflow:index:StackGuard/physioflow-stack-guard": {},
            "physioflow:k8s:BlueGreenApp/physioflow-api": app("physioflow-api"),
            "physioflow:k8s:BlueGreenApp/physioflow-web": app("physioflow-web"),
        });
    });

    it("prod during a release (green warm, taking traffic): replicas of both colors and the active one", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { activeColor: "green", inactiveWarm: "true", blueTag: "v1", greenTag: "v2" }));
        const api = run.componentOutputs.get("physioflow:k8s:BlueGreenApp/physioflow-api") as Record<string, unknown>;
        assert.deepStrictEqual([api.activeColor, api.replicas], ["green", { blue: 2, green: 2 }]);
        assert.deepStrictEqual([...run.componentOutputs.keys()].filter(key => key.includes("SmokeTest")).sort(), [
            "physioflow:k8s:SmokeTest/physioflow-smoke-blue",
            "physioflow:k8s:SmokeTest/physioflow-smoke-green",
        ]);
    });
});
