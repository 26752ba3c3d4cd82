import * as assert from "assert";
import { planDeploy } from "../../release/deploy";
import { engineErrorSummary } from "../../release/engineEvents";
import { DeployRefusedError, ReleaseSettings } from "../../release/types";

describe("deploy plan, from the stack's settings as they are", () => {
    const settings = (over: Partial<ReleaseSettings>): ReleaseSettings => ({
        activeColor: "blue",
        tags: { blue: "v1", green: "v1" },
        inactiveWarm: false,
        replicas: 1,
        ...over,
    });

    it("a new tag: every step", () => {
        assert.deepStrictEqual(planDeploy(settings({}), "v2"), { steps: ["release", "switch", "watch", "finish"], resumed: false, switched: false });
    });
    it("released and warm but not switched: resumed from the release (which then changes nothing)", () => {
        assert.deepStrictEqual(planDeploy(settings({ tags: { blue: "v1", green: "v2" }, inactiveWarm: true }), "v2"), {
            steps: ["release", "switch", "watch", "finish"],
            resumed: true,
            switched: false,
        });
    });
    it("switched and still warm: the switch again (its update may have been cut short; done, it changes nothing), then the watch", () => {
        assert.deepStrictEqual(planDeploy(settings({ activeColor: "green", tags: { blue: "v1", green: "v2" }, inactiveWarm: true }), "v2"), {
            steps: ["switch", "watch", "finish"],
            resumed: true,
            switched: true,
        });
    });
    it("finished in the settings but the finish's update cut short (the settings ahead of the stack by it): the finish again", () => {
        assert.deepStrictEqual(planDeploy(settings({ activeColor: "green", tags: { blue: "v1", green: "v2" } }), "v2", true), {
            steps: ["finish"],
            resumed: true,
            switched: true,
        });
    });
    it("already live and finished: refused", () => {
        assert.throws(
            () => planDeploy(settings({ activeColor: "green", tags: { blue: "v1", green: "v2" } }), "v2"),
            (error: Error) => error instanceof DeployRefusedError && error.message === "v2 is already live on green; nothing to deploy",
        );
    });
});

describe("one line from an engine error", () => {
    it("names the failing resource by name, not URN, with the first reason", () => {
        const message = [
            "code: 255",
            " stdout: Updating (deploytest):",
            "",
            " stderr: Command failed with exit code 255: pulumi up --yes",
            "  pulumi:pulumi:Stack (physioflow-deploytest):",
            "    error: update failed",
            "  kubernetes:batch/v1:Job (physioflow-smoke-blue):",
            "    error: resource \"urn:pulumi:deploytest::physioflow::physioflow:k8s:SmokeTest$kubernetes:batch/v1:Job::physioflow-smoke-blue\" was successfully created, but the Kubernetes API server reported that it failed to fully initialize or become live: Resource 'physioflow-smoke-blue' was created but failed to initialize",
        ].join("\n");
        assert.strictEqual(
            engineErrorSummary(new Error(message)),
            "physioflow-smoke-blue was successfully created, but the Kubernetes API server reported that it failed to fully initialize or become live: Resource 'physioflow-smoke-blue' was created but failed to initialize",
        );
    });
    it("takes the first listed error when several occurred", () => {
        const message = [
            "error: update failed",
            "  kubernetes:apps/v1:Deployment (physioflow-api-green):",
            "    error: 2 errors occurred:",
            "    * timed out waiting for the condition",
            "    * another",
        ].join("\n");
        assert.strictEqual(engineErrorSummary(new Error(message)), "physioflow-api-green: timed out waiting for the condition");
    });
});
