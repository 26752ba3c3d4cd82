/**
 * `deploy` (release/deploy.ts) on the real engine and a real control plane: the release cycle as
 * stack updates, the smoke gate, the watch's automatic rollback, the deploy lock, a deploy
 * resumed after one stopped between steps, and one killed outright in the middle of its switch.
 * The database half is in deployDatabase.test.ts, the watch's other signals in deployWatch.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import { readClusterState } from "../../release/clusterState";
import { deploy } from "../../release/deploy";
import { DeployRefusedError, ReleaseTarget } from "../../release/types";
import { DeployLockedError, deployLockName } from "../../release/deployLock";
import { changedSteps } from "../../release/engineEvents";
import { rollback } from "../../release/rollback";
import { formatStatus, readStatus } from "../../release/status";
import { Cluster } from "../../devenv/cluster";
import { neverReadyStage } from "../../devenv/clusterFaults";
import { kubectlGet } from "../../devenv/kubectl";
import { runReleaseCommandOn } from "../support/cliRun";
import { failingPodStage, refusingPolicy, sampleReadyEndpoints, sampleServiceSelectors } from "../support/clusterFaults";
import { waitForClusterState } from "../support/clusterWait";
import { TestClusterStack } from "../support/engine";
import { apps, releaseFixture } from "../support/releaseFixture";
import * as path from "path";
import { spawnDeployChild } from "../support/deployInChild";

describe("deploy: the release cycle on the real engine and a real control plane", function () {
    const f = releaseFixture("deploytest");
    const { namespace, notifications, events, noLock, live } = f;
    let cluster: Cluster;
    let s: TestClusterStack;
    let target: ReleaseTarget;
    const watch = { seconds: 3, intervalMs: 1000 };
    const lease = (holder: string, renewedSecondsAgo: number) => {
        const at = new Date(Date.now() - renewedSecondsAgo * 1000).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
        return JSON.stringify({
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: deployLockName, namespace },
            spec: { holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: at, renewTime: at },
        });
    };
    before(() => {
        ({ cluster, s, target } = f);
    });

    it("a good release: v2 to green warm behind its smoke test, switch (selectors only), watch, finish; an abandoned lock is taken over and released", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        await cluster.kubectl(["create", "-f", "-"], lease("ci@old-runner pid 1: deploy v1.9.0", 600));
        const lines: string[] = [];
        const sampler = await sampleReadyEndpoints(cluster, namespace, "physioflow-api");
        const result = await deploy(target, "v2.0.0", { watch, out: line => lines.push(line) });
        const samples = await sampler.stop();
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.ok(lines.includes("lock: took over the abandoned deploy lock of ci@old-runner pid 1: deploy v1.9.0"), lines.join("\n"));
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.result}`),
            ["release: done", "switch: done", "watch: no breach", "finish: done"],
        );
        const [release, sw, , finish] = result.steps;
        assert.deepStrictEqual(
            release.changes.filter(line => !/^\d+ unchanged$/.test(line)).map(line => line.split(/\s+/).slice(0, 3).join(" ")),
            ["~ Deployment physioflow-api-green", "~ Deployment physioflow-web-green", "+ Job physioflow-smoke-green", "+ SmokeTest physioflow-smoke-green"],
        );
        assert.deepStrictEqual(
            sw.changes.filter(line => !/^\d+ unchanged$/.test(line)).map(line => line.replace(/\s+/g, " ")),
            [
                "~ Service physioflow-api update spec.selector.version",
                "~ Service physioflow-api-preview update spec.selector.version",
                "~ Service physioflow-web update spec.selector.version",
                "~ Service physioflow-web-preview update spec.selector.version",
            ],
        );
        assert.ok(
            finish.changes.some(line => /^- Job physioflow-smoke-blue +delete$/.test(line)),
            finish.changes.join("\n"),
        );
        const state = await live("green");
        for (const app of apps) {
            assert.deepStrictEqual(state.deployments[`${app}-green`], {
                image: `registry.local:5000/${app}:v2.0.0`,
                replicas: 1,
                readyReplicas: 1,
                updatedReplicas: 1,
                availableReplicas: 1,
                observed: true,
            });
            assert.strictEqual(state.deployments[`${app}-blue`].replicas, 0);
        }
        assert.ok(
            samples.every(sample => sample.ready > 0),
            `the live Service had no ready endpoint during the deploy: ${JSON.stringify(samples)}`,
        );
        await noLock();
        assert.deepStrictEqual(notifications, [
            {
                event: "switch",
                namespace,
                from: "blue",
                to: "green",
                tag: "v2.0.0",
                text: `${namespace}: live traffic switched from blue to green (v2.0.0)`,
            },
        ]);
    });

    it("refuses a tag already live, and a deploy while another holds the lock, changing nothing", async () => {
        await assert.rejects(
            deploy(target, "v2.0.0", { watch }),
            (error: Error) => error instanceof DeployRefusedError && error.message === "v2.0.0 is already live on green; nothing to deploy",
        );
        await cluster.kubectl(["create", "-f", "-"], lease("ops@laptop pid 4242: deploy v2.1.0", 5));
        const before = await s.stack.getAllConfig();
        try {
            await assert.rejects(
                deploy(target, "v3.0.0", { watch }),
                (error: Error) =>
                    error instanceof DeployLockedError &&
                    new RegExp(
                        `^another deploy holds ${namespace}: ops@laptop pid 4242: deploy v2\\.1\\.0, since .* \\(Lease physioflow-deploy, renewed \\d+ s ago\\); wait for it to finish$`,
                    ).test(error.message),
            );
            assert.deepStrictEqual(await s.stack.getAllConfig(), before);
        } finally {
            await cluster.kubectl(["delete", "lease", deployLockName, "-n", namespace]);
        }
    });

    it("a failing smoke test stops the deploy at the release step: no switch, green stays live, the lock is released", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-blue-smoke-fails", namespace, { app: "physioflow-smoke", version: "blue" }));
        try {
            const result = await deploy(target, "v3.0.0", { watch });
            assert.strictEqual(result.ok, false);
            assert.deepStrictEqual(
                result.steps.map(step => step.step),
                ["release"],
            );
            assert.match(
                result.error!,
                /^release failed: physioflow-smoke-blue was successfully created, but the Kubernetes API server reported that it failed to fully initialize or become live/,
                result.error,
            );
            const state = await live("green");
            for (const app of apps) assert.strictEqual(state.services[app].selector.version, "green");
            await noLock();
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-smoke-fails"]);
        }
    });

    it("a breach during the watch (the new color's pods turn unready) rolls back by itself to the still-warm old color and scales the broken one down, its pods gone before it returns", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        const lines: string[] = [];
        const result = await deploy(target, "v3.0.1", {
            watch: { seconds: 30, intervalMs: 1000 },
            out: line => {
                lines.push(line);
                // After the switch, blue's pods break.
                // (kwok plays a Stage on a pod's next change: the annotation is that change.)
                if (line.startsWith("watch: ")) {
                    void cluster
                        .kubectl(["apply", "-f", "-"], neverReadyStage("test-blue-breaks", namespace, { version: "blue" }, ["Running"]))
                        .then(() =>
                            cluster.kubectl(["annotate", "pods", "-n", namespace, "-l", "version=blue,app!=physioflow-smoke", "physioflow-test/broken=true"]),
                        );
                }
            },
        });
        try {
            assert.strictEqual(result.ok, false, lines.join("\n"));
            assert.deepStrictEqual(
                result.steps.map(step => step.step),
                ["release", "switch", "watch", "rollback"],
            );
            assert.match(result.rolledBack!.reason, /^physioflow-(api|web)-blue 0\/1 ready/);
            assert.match(result.steps[2].result, /^breach: /);
            assert.deepStrictEqual(events(), ["switch green->blue", "automatic-rollback blue->green"]);
            assert.strictEqual(notifications[1].reason, result.rolledBack!.reason);
            // The broken color scaled down in the rollback's update, and its pods gone when the deploy returned:
            // warm, they would go on answering the keep-alive connections opened to them while blue was live.
            const rolledBack = await readClusterState(cluster.kubectl, namespace);
            for (const app of apps) assert.strictEqual(rolledBack.deployments[`${app}-blue`].replicas, 0, app);
            const bluePods = await kubectlGet<{ items: unknown[] }>(cluster.kubectl, ["pods", "-n", namespace, "-l", "version=blue,app!=physioflow-smoke"]);
            assert.strictEqual(bluePods.items.length, 0, "blue's pods were still there when the deploy returned");
            assert.ok(
                lines.some(line => /^  blue's pods stopped \(\d+ ms\): no connection is left on it$/.test(line)),
                lines.join("\n"),
            );
            assert.strictEqual((await s.stack.getConfig("physioflow:inactiveWarm")).value, "false");

            // Blue scaled up by hand, still broken: even an emergency rollback refuses to send traffic to it.
            await cluster.kubectl(["scale", "deployment", "physioflow-api-blue", "physioflow-web-blue", "-n", namespace, "--replicas=1"]);
            await waitForClusterState(
                cluster.kubectl,
                namespace,
                state => apps.every(app => state.deployments[`${app}-blue`].replicas === 1 && state.deployments[`${app}-blue`].updatedReplicas === 1),
                { what: "blue's hand-scaled pods" },
            );
            const refused = await rollback(target, { emergency: true });
            assert.strictEqual(refused.ok, false);
            assert.match(
                refused.error!,
                /^refusing to switch to blue: it has no ready pods \(physioflow-api-blue 0\/1 ready, physioflow-web-blue 0\/1 ready\); green stays live$/,
                refused.error,
            );
            const state = await live("green");
            for (const app of apps) {
                assert.strictEqual(state.deployments[`${app}-green`].image, `registry.local:5000/${app}:v2.0.0`);
                assert.strictEqual(state.services[app].selector.version, "green");
            }
            await noLock();
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-blue-breaks"]);
            // Back to what the stack declares (0): the hand scale was out of band.
            await cluster.kubectl(["scale", "deployment", "physioflow-api-blue", "physioflow-web-blue", "-n", namespace, "--replicas=0"]);
        }
    });

    it("a deploy stopped between steps (released, not switched; its lock abandoned) is resumed by the next one", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        // What a deploy killed after its release step leaves: blue released warm, the lock not deleted.
        await s.set({ blueTag: "v4.0.0", inactiveWarm: "true" });
        await s.up();
        await cluster.kubectl(["create", "-f", "-"], lease("ops@laptop pid 99: deploy v4.0.0", 120));
        const lines: string[] = [];
        const result = await deploy(target, "v4.0.0", { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.ok(lines.includes("resuming a deploy of v4.0.0 that stopped before its end (release, switch, watch, finish left)"), lines.join("\n"));
        assert.deepStrictEqual(result.steps[0].changes, [], "the release was already done");
        const state = await live("blue");
        assert.strictEqual(state.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v4.0.0");
        assert.strictEqual(state.deployments["physioflow-api-green"].replicas, 0);
        await noLock();
    });

    it("an emergency rollback to a cold color whose smoke test fails is not switched to: blue stays live, green is scaled back, one line says why", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        await cluster.kubectl(["apply", "-f", "-"], failingPodStage("test-green-smoke-fails", namespace, { app: "physioflow-smoke", version: "green" }));
        try {
            const lines: string[] = [];
            const refused = await rollback(target, { emergency: true, out: line => lines.push(line) });
            assert.strictEqual(refused.ok, false, lines.join("\n"));
            assert.match(
                refused.error!,
                /^the smoke test of green failed \(Job physioflow-smoke-green-emergency: failed\); green scaled back to 0 replicas; blue stays live$/,
                refused.error,
            );
            // Typed: the failed step carries its error and the live color read back after the scale back.
            assert.deepStrictEqual(
                refused.steps.map(step => [step.step, step.outcome]),
                [
                    ["release", { kind: "done", detail: "ready" }],
                    [
                        "verify",
                        {
                            kind: "failed",
                            error: "the smoke test of green failed (Job physioflow-smoke-green-emergency: failed); green scaled back to 0 replicas",
                            live: { color: "blue" },
                        },
                    ],
                ],
            );
            assert.strictEqual(
                refused.steps[1].result,
                "failed: the smoke test of green failed (Job physioflow-smoke-green-emergency: failed); green scaled back to 0 replicas; blue is live",
            );
            assert.strictEqual(refused.patchMs, undefined);
            const state = await live("blue");
            for (const app of apps) {
                assert.strictEqual(state.services[app].selector.version, "blue");
                assert.strictEqual(state.deployments[`${app}-green`].replicas, 0, `${app}-green is not scaled back`);
            }
            assert.deepStrictEqual(Object.keys(state.jobs).sort(), ["physioflow-smoke-blue"], "the one-off smoke Job is left behind");
            // Nothing of the stack was changed: its settings and the cluster still agree.
            assert.notStrictEqual((await s.stack.getConfig("physioflow:inactiveWarm").catch(() => ({ value: "false" }))).value, "true");
            assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "the stack does not match the cluster after the refusal");
            await noLock();
            assert.deepStrictEqual(events(), []);
        } finally {
            await cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-green-smoke-fails"]);
        }
    });

    it("an emergency rollback to a cold color scales it and smoke-tests it through the API, patches the live Services, then reconciles: traffic moves before the stack update, no pending change, and a normal rollback flips back", async function () {
        this.timeout(8 * 60 * 1000); // three stack updates and three previews, on a shared machine
        const lines: string[] = [];
        let reconcileAt = 0;
        let smokePassedAt = 0;
        const timeline: string[] = [];
        const sampler = await sampleReadyEndpoints(cluster, namespace, "physioflow-api");
        const started = Date.now();
        const emergency = await rollback(target, {
            emergency: true,
            out: line => {
                lines.push(line);
                timeline.push(`+${Date.now() - started} ms ${line}`);
                if (line.startsWith("rollback: ") && reconcileAt === 0) reconcileAt = Date.now();
                if (line.startsWith("  smoke test passed") && smokePassedAt === 0) smokePassedAt = Date.now();
            },
        });
        const samples = await sampler.stop();
        assert.strictEqual(emergency.ok, true, `${emergency.error}\n${lines.join("\n")}`);
        assert.ok(
            lines.includes(
                "green has no ready pods (physioflow-api-green 0/0 ready, physioflow-web-green 0/0 ready): scaling it up and smoke-testing it through the API",
            ),
            lines.join("\n"),
        );
        assert.deepStrictEqual(
            emergency.steps.map(step => `${step.step}: ${step.result}`),
            ["release: ready", "verify: passed", "switch: patched", "rollback: stack matches the cluster"],
        );
        assert.deepStrictEqual(emergency.steps[0].changes, [
            "physioflow-api-green: replicas 0 -> 1 (kubectl scale)",
            "physioflow-web-green: replicas 0 -> 1 (kubectl scale)",
        ]);
        // Traffic moved through the API after the smoke test had passed and before the stack's update started
        // (ordering, not a time limit: how long it takes on a loaded machine is the benchmarks' business).
        const timings = emergency.coldStart!;
        assert.ok(timings !== undefined, "no timings of the cold start");
        const moved = samples.find(sample => sample.ready > 0 && sample.colors.join() === "green");
        assert.ok(moved, `the live Service never served green only: ${JSON.stringify(samples)}`);
        // The command itself waits for the endpoints before it reconciles, and says so first.
        assert.ok(
            lines.some(line => line.startsWith("  live Services serve green only (")) &&
                lines.findIndex(line => line.startsWith("  live Services serve green only (")) < lines.findIndex(line => line.startsWith("rollback: ")),
            lines.join("\n"),
        );
        assert.ok(
            smokePassedAt > 0 && moved.at >= smokePassedAt,
            `traffic moved at +${moved.at - started} ms, the smoke test passed at +${smokePassedAt - started} ms`,
        );
        assert.ok(
            reconcileAt > 0 && moved.at < reconcileAt,
            `traffic moved at +${moved.at - started} ms, the reconcile began at +${reconcileAt - started} ms\n${timeline.join("\n")}`,
        );
        assert.ok(emergency.trafficMs! >= timings.readyMs + timings.smokeMs && emergency.trafficMs! < reconcileAt - started + 1000, JSON.stringify(emergency));
        await live("green");
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "the stack does not match the patched Services");
        const state = await readClusterState(cluster.kubectl, namespace);
        assert.deepStrictEqual(Object.keys(state.jobs).sort(), ["physioflow-smoke-blue", "physioflow-smoke-green"], "the one-off smoke Job is left behind");
        await noLock();
        assert.deepStrictEqual(events(), ["emergency-rollback blue->green"]);

        // Warm now: an emergency rollback is the patch alone, then the stack catching up.
        const again = await rollback(target, { emergency: true });
        assert.strictEqual(again.ok, true, again.error);
        assert.deepStrictEqual(
            again.steps.map(step => step.step),
            ["switch", "rollback"],
        );
        assert.ok(again.patchMs !== undefined && again.patchMs > 0);
        await live("blue");
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), []);

        const normal = await rollback(target);
        assert.strictEqual(normal.ok, true, normal.error);
        assert.deepStrictEqual(
            normal.steps.map(step => step.step),
            ["switch"],
        );
        assert.deepStrictEqual(
            normal.steps[0].changes.filter(line => !/unchanged$/.test(line)).map(line => line.split(/\s+/).slice(0, 3).join(" ")),
            ["~ Service physioflow-api", "~ Service physioflow-api-preview", "~ Service physioflow-web", "~ Service physioflow-web-preview"],
        );
        await live("green");
        await noLock();
        assert.deepStrictEqual(events(), ["emergency-rollback blue->green", "emergency-rollback green->blue", "rollback blue->green"]);
    });

    it("status shows the stack beside its cluster: nothing flagged after the rollbacks, a hand-patched Service flagged", async () => {
        const lines = formatStatus(await readStatus(target));
        assert.deepStrictEqual(
            lines.filter(line => line.startsWith("!")),
            [],
            lines.join("\n"),
        );
        assert.ok(lines.includes("  active color   green in the config"), lines.join("\n"));
        assert.ok(
            lines.some(line => /^  live service   physioflow-api +selects green; 1 ready endpoint\(s\): green$/.test(line)),
            lines.join("\n"),
        );
        assert.ok(lines.includes("  deploy         none in progress"));
        assert.ok(lines.includes("  settings       blue: the stack's; green (active): the stack's"), lines.join("\n"));
        await cluster.kubectl(["patch", "service", "physioflow-web", "-n", namespace, "--type", "merge", "-p", '{"spec":{"selector":{"version":"blue"}}}']);
        try {
            const flagged = formatStatus(await readStatus(target)).filter(line => line.startsWith("!"));
            assert.deepStrictEqual(
                flagged.map(line => line.replace(/ready endpoint\(s\).*\(/, "… (")),
                ["! live service   physioflow-web         selects blue; 1 … (the config says green)"],
            );
        } finally {
            await cluster.kubectl([
                "patch",
                "service",
                "physioflow-web",
                "-n",
                namespace,
                "--type",
                "merge",
                "-p",
                '{"spec":{"selector":{"version":"green"}}}',
            ]);
        }
    });

    it("a deploy killed outright during its switch (its Pulumi CLI with it) leaves the live Services on ready pods; the next deploy takes its lock over at once, clears the stack's update lock and finishes", async function () {
        this.timeout(4 * 60 * 1000);
        const samplers = await Promise.all(apps.map(app => sampleReadyEndpoints(cluster, namespace, app)));
        const child = spawnDeployChild({
            stack: s.dirs,
            kubectl: path.join(cluster.binDir, "kubectl"),
            kubeconfig: cluster.kubeconfigPath,
            namespace,
            tag: "v7.0.0",
            watchSeconds: 3,
        });
        const childLines = child.lines;
        // Killed once its switch update has moved a live Service: inside `pulumi up`.
        const selectors = await sampleServiceSelectors(cluster, namespace, ["physioflow-api"]);
        const moved = selectors.until("blue").then(() => true);
        while (!(await Promise.race([moved, new Promise<boolean>(resolve => setTimeout(() => resolve(false), 200))]))) {
            assert.ok(!child.ended(), `the deploy ended before it could be killed:\n${childLines.join("\n")}`);
        }
        await selectors.stop();
        await child.kill();
        const samples = await Promise.all(samplers.map(sampler => sampler.stop()));
        samples.forEach((appSamples, i) =>
            assert.ok(appSamples.length > 0 && appSamples.every(sample => sample.ready > 0), `${apps[i]} served no ready pod at some point`),
        );
        const abandoned = await readStatus(target);
        assert.ok(abandoned.lock?.stale, `the killed deploy's lock counts as abandoned at once: ${JSON.stringify(abandoned.lock)}`);
        // Had the kill landed while pulumi wrote the checkpoint's metadata file, that file would be empty
        // (every command on the stack then fails "failed to load checkpoint: EOF"): the takeover removes it.
        fs.writeFileSync(path.join(s.dirs.stateDir, ".pulumi", "stacks", "physioflow", `${s.dirs.stackName}.json.attrs`), "");

        const lines: string[] = [];
        const result = await deploy(target, "v7.0.0", { watch, out: line => lines.push(line) });
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}\n--- killed deploy:\n${childLines.join("\n")}`);
        assert.ok(
            lines.some(line => /^lock: took over the abandoned deploy lock of .*: deploy v7\.0\.0 \(its process is gone\)$/.test(line)),
            lines.join("\n"),
        );
        assert.ok(lines.includes("resuming a deploy of v7.0.0 that stopped before its end (switch, watch, finish left)"), lines.join("\n"));
        assert.ok(
            lines.some(line => /^state: removed \.pulumi\/stacks\/physioflow\/\w+\.json\.attrs in /.test(line)),
            lines.join("\n"),
        );
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["switch", "watch", "finish"],
        );
        const state = await live("blue");
        assert.strictEqual(state.deployments["physioflow-api-blue"].image, "registry.local:5000/physioflow-api:v7.0.0");
        assert.strictEqual(state.deployments["physioflow-api-green"].replicas, 0);
        assert.deepStrictEqual(changedSteps((await s.preview()).steps), [], "the stack matches the cluster");
        await noLock();
    });

    it("a finish the API server refuses: the deploy says the color read back from the cluster is live (green), not the one it came from", async function () {
        this.timeout(5 * 60 * 1000); // a deploy now also reads the stack's outputs and writes the release record at each step
        const policy = "physioflow-test-deploy-no-scale-down";
        const deployments = { group: "apps", resource: "deployments" };
        await cluster.kubectl(
            ["apply", "-f", "-"],
            refusingPolicy(
                policy,
                namespace,
                deployments,
                "!object.metadata.name.endsWith('-blue') || object.spec.replicas > 0",
                "physioflow-test-policy: blue stays up",
            ),
        );
        try {
            // The policy is in force once a dry run of the finish's scale-down is refused.
            for (;;) {
                const dryRun = await cluster
                    .kubectl([
                        "patch",
                        "deployment",
                        "physioflow-web-blue",
                        "-n",
                        namespace,
                        "--type",
                        "merge",
                        "-p",
                        '{"spec":{"replicas":0}}',
                        "--dry-run=server",
                    ])
                    .then(
                        () => "",
                        (error: Error) => error.message,
                    );
                if (/physioflow-test-policy/.test(dryRun)) break;
                await new Promise(resolve => setTimeout(resolve, 200));
            }
            const run = await runReleaseCommandOn(target, ["deploy", "local", "v7.1.0", "--watch", "2s", "--json"]);
            const text = run.lines.join("\n");
            assert.strictEqual(run.code, 1, text);
            assert.match(run.lines.at(-1)!, /^finish failed: .*physioflow-test-policy: blue stays up.*; green is live$/, text);
            const result = JSON.parse(run.stdout);
            assert.deepStrictEqual(
                result.steps.map((step: any) => `${step.step}: ${step.outcome?.kind}`),
                ["release: done", "switch: done", "watch: done", "finish: failed"],
            );
            assert.deepStrictEqual(result.steps[3].outcome.live, { color: "green" });
            assert.deepStrictEqual(result.live, { color: "green" });
            await live("green");
            await noLock();
        } finally {
            await cluster.kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found"]);
        }
    });
});
