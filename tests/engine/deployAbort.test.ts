/**
 * A running deploy stops when it should not go on: an emergency rollback from a second process
 * aborts it (in the middle of its watch, and of its release step), and a deploy that lost its
 * deploy lock (its Lease deleted under it) stops too. Real engine, real control plane; the deploy
 * runs in a child process (tests/support/deployChild.ts) as a second terminal's would.
 */
import * as assert from "assert";
import * as path from "path";
import { otherColor } from "../../components/colors";
import { readLiveColor } from "../../release/clusterState";
import { deploy } from "../../release/deploy";
import { deployLockName } from "../../release/deployLock";
import { readReleaseRecord } from "../../release/releaseRecord";
import { changedSteps } from "../../release/engineEvents";
import { rollback } from "../../release/rollback";
import { readStatus } from "../../release/status";
import { EndpointSample, sampleReadyEndpoints, slowReadyStage } from "../support/clusterFaults";
import { spawnDeployChild } from "../support/deployInChild";
import { apps, releaseFixture } from "../support/releaseFixture";

describe("deploy: aborted by an emergency rollback, stopped by a lost lock", function () {
    const f = releaseFixture("aborttest");
    const { namespace, noLock, live } = f;
    const children: (() => Promise<void>)[] = [];
    afterEach(async () => {
        await Promise.all(children.splice(0).map(end => end()));
    });

    /** A deploy of `tag` in a child process; `lines` fills as it prints, `done` resolves to its result. */
    const deployInChild = (tag: string, watchSeconds: number) => {
        const child = spawnDeployChild({
            stack: f.s.dirs,
            kubectl: path.join(f.cluster.binDir, "kubectl"),
            kubeconfig: f.cluster.kubeconfigPath,
            namespace,
            tag,
            watchSeconds,
        });
        /** After a failed assertion: the child and its Pulumi CLI must not go on into the next test. */
        children.push(child.kill);
        return child;
    };
    const until = async (what: string, lines: string[], test: () => boolean | Promise<boolean>) => {
        for (;;) {
            if (await test()) return;
            assert.ok(!lines.some(line => /^(result|error): /.test(line)), `the deploy ended before ${what}:\n${lines.join("\n")}`);
            await new Promise(resolve => setTimeout(resolve, 50));
        }
    };
    /**
     * Records what both live Services serve from now on; `stop()` fails when either served no ready
     * pod at some point, and resolves to each one's samples.
     */
    const sampleLive = async () => {
        const samplers = await Promise.all(apps.map(app => sampleReadyEndpoints(f.cluster, namespace, app)));
        return async () => {
            const samples = await Promise.all(samplers.map(sampler => sampler.stop()));
            samples.forEach((appSamples, i) =>
                assert.ok(
                    appSamples.length > 0 && appSamples.every(sample => sample.ready > 0),
                    `${apps[i]} served no ready pod at some point: ${JSON.stringify(appSamples)}`,
                ),
            );
            return samples;
        };
    };
    /** The colors a Service served alone, in order, repeats folded: `["green", "blue"]` is one move and no way back. */
    const servedAlone = (samples: EndpointSample[]) =>
        samples
            .filter(sample => sample.colors.length === 1)
            .map(sample => sample.colors[0])
            .filter((color, i, all) => i === 0 || all[i - 1] !== color);
    /** The live color now (one color), and the other: where the next release goes. */
    const liveNow = async () => {
        const read = await readLiveColor(f.cluster.kubectl, namespace);
        assert.ok(read.color === "blue" || read.color === "green", JSON.stringify(read));
        return { from: read.color, to: otherColor(read.color) };
    };
    const selectors = async () =>
        Promise.all(apps.map(async app => (await f.cluster.getJson(["service", app, "-n", namespace])).spec.selector.version as string));

    it("an emergency rollback from a second process during the watch: the deploy stops saying it was aborted, blue stays live", async function () {
        this.timeout(4 * 60 * 1000);
        const child = deployInChild("v2.0.0", 90);
        await until("its watch", child.lines, () => child.lines.some(line => line.startsWith("watch: ")));
        const emergencyLines: string[] = [];
        const emergency = await rollback(f.target, { emergency: true, out: line => emergencyLines.push(line) });
        assert.strictEqual(emergency.ok, true, emergency.error);
        // It went ahead without the lock, then took it for its reconcile once the deploy had let go.
        const index = (prefix: string) => emergencyLines.findIndex(line => line.startsWith(prefix));
        assert.ok(index("lock: ") === 0 && emergencyLines[0].endsWith("; going ahead (emergency)"), emergencyLines.join("\n"));
        assert.ok(index("lock: taken for the reconcile") > index("switch: "), emergencyLines.join("\n"));
        assert.ok(index("lock: taken for the reconcile") < index("rollback: "), emergencyLines.join("\n"));
        const { result, code } = await child.done;
        const record = await readReleaseRecord(f.cluster.kubectl, namespace);
        assert.deepStrictEqual(
            { tag: record.release?.tag, from: record.release?.from, to: record.release?.to, aborted: record.aborted?.reason },
            { tag: "v2.0.0", from: "blue", to: "green", aborted: "emergency rollback" },
        );
        assert.ok(result, child.lines.join("\n"));
        assert.strictEqual(code, 1, child.lines.join("\n"));
        assert.strictEqual(result.ok, false);
        assert.deepStrictEqual(result.aborted?.reason, "emergency rollback", child.lines.join("\n"));
        // The live color as read when the deploy stopped: the emergency may not have patched yet.
        assert.match(result.error!, /^aborted by \S+@\S+ pid \d+: emergency rollback; (blue|green) is live$/);
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release", "switch", "watch"],
        );
        assert.match(result.steps[2].result, /^aborted/);
        await live("blue");
        // Nothing the deploy left behind moves traffic back.
        await new Promise(resolve => setTimeout(resolve, 2000));
        assert.deepStrictEqual(await selectors(), ["blue", "blue"]);
        await noLock();
    });

    it("an emergency rollback from a second process during the release step: the deploy is aborted and never switches, and the live color stays (the color being released is not a way back)", async function () {
        this.timeout(4 * 60 * 1000);
        // Blue live, green warm (v2.0.0): the next release goes to green. Green's new API pods are
        // ready only 20 s after they start, so its release update is still running when the
        // emergency rollback comes (a fast update could reach its switch first).
        await f.cluster.kubectl(["apply", "-f", "-"], slowReadyStage("test-green-slow", namespace, { app: "physioflow-api", version: "green" }, 20_000));
        const child = deployInChild("v3.0.0", 5);
        await until("its release update changed green", child.lines, async () => {
            const image = (await f.cluster.getJson(["deployment", "physioflow-api-green", "-n", namespace])).spec.template.spec.containers[0].image;
            return image.endsWith(":v3.0.0");
        });
        assert.ok(!child.lines.some(line => line.startsWith("switch: ")), child.lines.join("\n"));
        const lines: string[] = [];
        const emergency = await rollback(f.target, { emergency: true, out: line => lines.push(line) });
        assert.strictEqual(emergency.ok, true, emergency.error);
        assert.strictEqual(emergency.to, "blue", lines.join("\n"));
        assert.ok(lines.includes("release: the running deploy of v3.0.0 to green had not switched: aborted; blue stays live"), lines.join("\n"));
        const { result, code } = await child.done.finally(() => f.cluster.kubectl(["delete", "stage.kwok.x-k8s.io", "test-green-slow"]));
        assert.ok(result, child.lines.join("\n"));
        assert.strictEqual(code, 1, child.lines.join("\n"));
        assert.match(result.error ?? "", /^aborted by \S+@\S+ pid \d+: emergency rollback; blue is live$/, child.lines.join("\n"));
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release"],
        );
        await live("blue");
        await new Promise(resolve => setTimeout(resolve, 2000));
        assert.deepStrictEqual(await selectors(), ["blue", "blue"]);
        await noLock();
    });

    it("a deploy whose Lease is deleted under it stops saying the lock was lost", async function () {
        this.timeout(3 * 60 * 1000);
        const lines: string[] = [];
        let deleted: Promise<string> | undefined;
        const result = await deploy(f.target, "v4.0.0", {
            watch: { seconds: 60, intervalMs: 1000 },
            out: line => {
                lines.push(line);
                if (line.startsWith("watch: ")) deleted = f.cluster.kubectl(["delete", "lease", deployLockName, "-n", namespace]);
            },
        });
        await deleted;
        assert.strictEqual(result.ok, false, lines.join("\n"));
        assert.match(
            result.error ?? "",
            // It had switched: the color it released is live, read back (the tests before decide which one that is).
            new RegExp(`^stopped: the deploy lock of ${namespace} was lost \\(Lease ${deployLockName} is gone\\); ${result.to} is live$`),
            lines.join("\n"),
        );
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release", "switch", "watch"],
        );
        await live(result.to);
        await noLock();
    });

    /** Once the child has printed the preview of its `step`'s update: its `pulumi up` is under way. */
    const inUpdateOf = (lines: string[], step: string) => {
        const at = lines.findIndex(line => line.startsWith(`${step}: `));
        return at !== -1 && lines.slice(at + 1).some(line => line.startsWith("  "));
    };
    const stackMatchesCluster = async () => assert.deepStrictEqual(changedSteps((await f.s.preview()).steps), [], "the stack matches the cluster");

    /**
     * A deploy of the next tag in a child process, killed outright (its Pulumi CLI with it) once
     * `killWhen` holds, then the same tag deployed again here. Checks what every resumed deploy must
     * show: its lock counted abandoned at once and taken over, `resumes` said, the new color live on
     * ready pods (one move, never back, never an empty Service), its image, the old color scaled
     * down, the stack matching the cluster, no lock left. Returns the resumed deploy's result.
     */
    const killThenResume = async (tag: string, watchSeconds: number, what: string, killWhen: (lines: string[]) => boolean, resumes: string) => {
        const { from, to } = await liveNow();
        const stop = await sampleLive();
        const child = deployInChild(tag, watchSeconds);
        await until(what, child.lines, () => killWhen(child.lines));
        assert.ok(!child.ended(), child.lines.join("\n"));
        await child.kill();
        const killed = child.lines.join("\n");
        assert.ok((await readStatus(f.target)).lock?.stale, "the killed deploy's lock counts as abandoned at once");
        await live(to);

        const lines: string[] = [];
        const result = await deploy(f.target, tag, { watch: { seconds: 2, intervalMs: 1000 }, out: line => lines.push(line) });
        const samples = await stop();
        assert.strictEqual(result.ok, true, `${result.error}\n${lines.join("\n")}\n--- killed deploy:\n${killed}`);
        const escaped = tag.replaceAll(".", "\\.");
        assert.ok(
            lines.some(line => new RegExp(`^lock: took over the abandoned deploy lock of .*: deploy ${escaped} \\(its process is gone\\)$`).test(line)),
            lines.join("\n"),
        );
        assert.ok(lines.includes(`resuming a deploy of ${tag} that stopped before its end (${resumes} left)`), lines.join("\n"));
        samples.forEach(appSamples => assert.deepStrictEqual(servedAlone(appSamples), [from, to]));
        const state = await live(to);
        assert.strictEqual(state.deployments[`physioflow-api-${to}`].image, `registry.local:5000/physioflow-api:${tag}`);
        assert.strictEqual(state.deployments[`physioflow-api-${from}`].replicas, 0);
        await stackMatchesCluster();
        await noLock();
        return { from, to, result };
    };

    it("a deploy killed outright during its watch: the new color stays live on ready pods; the next deploy of the tag takes the lock over at once and resumes the watch and finish", async function () {
        this.timeout(4 * 60 * 1000);
        // In the suite's order green is live with v4.0.0 (the deploy that lost its lock), blue warm: this release goes to blue.
        let watchSince: number | undefined;
        /** A second (a few readings) into its watch. */
        const intoWatch = (lines: string[]) => {
            if (watchSince === undefined && lines.some(line => line.startsWith("watch: "))) watchSince = Date.now();
            return watchSince !== undefined && Date.now() - watchSince >= 1000;
        };
        const { from, to, result } = await killThenResume("v5.0.0", 120, "its watch", intoWatch, "switch, watch, finish");
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.result}`),
            ["switch: done", "watch: no breach", "finish: done"],
        );
        assert.deepStrictEqual(result.steps[0].changes, [], "the resumed switch changes nothing");
        // The switch is told by the killed deploy, and again by the one that resumed it.
        assert.deepStrictEqual(f.events(), [`switch ${from}->${to}`, `switch ${from}->${to}`]);
    });

    it("a deploy killed outright during its finish's update: the new color stays live on ready pods; the next deploy of the tag takes the lock over at once and does the finish", async function () {
        this.timeout(4 * 60 * 1000);
        // In the suite's order blue is live with v5.0.0, green scaled down: this release goes to green.
        // Killed inside its finish's `pulumi up` (release/stateBackend.ts keeps a kill there from tearing the state).
        const { from, to, result } = await killThenResume("v6.0.0", 1, "its finish's update", lines => inUpdateOf(lines, "finish"), "finish");
        assert.deepStrictEqual(
            result.steps.map(step => `${step.step}: ${step.result}`),
            ["finish: done"],
        );
        assert.deepStrictEqual(f.events(), [`switch ${from}->${to}`]);
    });

    it("an emergency rollback from a second process during the deploy's switch update: back to the color that was live, the deploy stops before its watch, and traffic never goes forward again", async function () {
        this.timeout(4 * 60 * 1000);
        // In the suite's order green is live with v6.0.0, blue scaled down: this release goes to blue.
        const { from, to } = await liveNow();
        const stop = await sampleLive();
        const child = deployInChild("v7.0.0", 60);
        await until("its switch's update", child.lines, () => inUpdateOf(child.lines, "switch"));
        // Held inside its switch's update until the emergency has seen it there: the update of four
        // selectors can end before a busy machine has started the emergency (then it meets the watch).
        child.pause();
        const lines: string[] = [];
        let patchedAt = 0;
        const waiting = "release: the running deploy of v7.0.0 is in its switch, which runs to its end; waiting for it";
        const emergency = await rollback(f.target, {
            emergency: true,
            out: line => {
                lines.push(line);
                if (line === waiting || line.startsWith("switch: ")) child.resume();
                if (/^ {2}live Services select /.test(line)) patchedAt = Date.now();
            },
        }).finally(() => child.resume());
        const { result, code } = await child.done;
        const samples = await stop();
        assert.strictEqual(emergency.ok, true, `${emergency.error}\n${lines.join("\n")}`);
        assert.deepStrictEqual({ from: emergency.from, to: emergency.to }, { from: to, to: from }, lines.join("\n"));
        // The switch's update is never cut short: the emergency waits for it, then patches.
        assert.ok(lines.includes(waiting), lines.join("\n"));
        assert.ok(result, child.lines.join("\n"));
        assert.strictEqual(code, 1, child.lines.join("\n"));
        assert.deepStrictEqual(result.aborted?.reason, "emergency rollback", child.lines.join("\n"));
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release", "switch"],
            child.lines.join("\n"),
        );
        const story = `${lines.join("\n")}\n--- deploy:\n${child.lines.join("\n")}`;
        // What each Service served when the emergency had patched, and every change after: once the
        // old color alone, the new one never again.
        samples.forEach((appSamples, i) => {
            const atPatch = appSamples.filter(sample => sample.at <= patchedAt).length - 1;
            const after = appSamples.slice(Math.max(0, atPatch));
            const back = after.findIndex(sample => sample.colors.join() === from);
            assert.ok(back !== -1, `${apps[i]} never served ${from} alone after the patch: ${JSON.stringify(appSamples)}\n${story}`);
            assert.ok(
                after.slice(back).every(sample => sample.colors.join() === from),
                `${apps[i]} served ${to} again after the emergency: ${JSON.stringify(appSamples)}\n${story}`,
            );
        });
        assert.deepStrictEqual(f.events(), [`switch ${from}->${to}`, `emergency-rollback ${to}->${from}`]);
        await live(from);
        assert.deepStrictEqual(await selectors(), [from, from]);
        await stackMatchesCluster();
        await noLock();
    });

    it("an emergency rollback from a second process during the deploy's finish: the finish runs to its end, then the old color is brought up again through the API and patched; never a Service without ready pods", async function () {
        this.timeout(4 * 60 * 1000);
        // In the suite's order green is live with v6.0.0, blue warm with v7.0.0 (the aborted release): this release goes to blue.
        const { from, to } = await liveNow();
        const stop = await sampleLive();
        const child = deployInChild("v8.0.0", 1);
        await until("its finish", child.lines, () => child.lines.some(line => line.startsWith("finish: ")));
        const lines: string[] = [];
        const emergency = await rollback(f.target, { emergency: true, out: line => lines.push(line) });
        const { result, code } = await child.done;
        const samples = await stop();
        const story = `${lines.join("\n")}\n--- deploy:\n${child.lines.join("\n")}`;
        assert.strictEqual(emergency.ok, true, `${emergency.error}\n${story}`);
        assert.deepStrictEqual({ from: emergency.from, to: emergency.to }, { from: to, to: from }, story);
        // The finish's update is never cut short and was the deploy's last step: it ends, scaling the way back down.
        assert.ok(lines.includes(`release: the running deploy of v8.0.0 is in its finish, which runs to its end; waiting for it`), story);
        assert.ok(result, story);
        assert.strictEqual(code, 0, story);
        assert.deepStrictEqual(
            result.steps.map(step => step.step),
            ["release", "switch", "watch", "finish"],
        );
        assert.ok(
            lines.includes(
                `${from} has no ready pods (physioflow-api-${from} 0/0 ready, physioflow-web-${from} 0/0 ready): scaling it up and smoke-testing it through the API`,
            ),
            story,
        );
        samples.forEach(appSamples => assert.deepStrictEqual(servedAlone(appSamples), [from, to, from], story));
        assert.deepStrictEqual(f.events(), [`switch ${from}->${to}`, `emergency-rollback ${to}->${from}`]);
        const state = await live(from);
        assert.strictEqual(state.deployments[`physioflow-api-${from}`].readyReplicas, 1);
        await stackMatchesCluster();
        await noLock();
    });
});
