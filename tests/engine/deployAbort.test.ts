/**
 * A running deploy stops when it should not go on: an emergency rollback from a second process
 * aborts it (in the middle of its watch, and of its release step), and a deploy that lost its
 * deploy lock (its Lease deleted under it) stops too. Real engine, real control plane; the deploy
 * runs in a child process (tests/support/deployChild.ts) as a second terminal's would.
 */
import * as assert from "assert";
import * as path from "path";
import { deploy } from "../../release/deploy";
import { deployLockName } from "../../release/deployLock";
import { readReleaseRecord } from "../../release/releaseRecord";
import { rollback } from "../../release/rollback";
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
        // Blue live, green warm (v2.0.0): the next release goes to green.
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
        const { result, code } = await child.done;
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
            watch: { seconds: 60, intervalMs: 300 },
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
});
