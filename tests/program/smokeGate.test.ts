import * as assert from "assert";
import { smokeScript } from "../../components/smokeChecks";
import { runUnderMocks } from "../../bench/programUnderMocks";
import { parseStackConfig } from "../../components/config";
import { emergencySmokeJob, emergencySmokeJobName } from "../../release/emergency";
import { find, runProgram, stackConfigWithSecrets, stackFileConfig } from "../support/programRun";

const Deployment = "kubernetes:apps/v1:Deployment";
const Service = "kubernetes:core/v1:Service";
const Job = "kubernetes:batch/v1:Job";
const ConfigMap = "kubernetes:core/v1:ConfigMap";

describe("smoke gate in the stack", () => {
    it("the live Services move only after the active color's smoke test, which waits for both apps of that color", async () => {
        const run = await runProgram("prod", stackConfigWithSecrets("prod", { activeColor: "green", inactiveWarm: "true" }));
        for (const app of ["physioflow-api", "physioflow-web"]) {
            assert.ok(find(run, Service, app).options.dependsOn.includes(`${Job}/physioflow-smoke-green`), `${app} does not wait for green's smoke test`);
            assert.ok(!find(run, Service, app).options.dependsOn.includes(`${Job}/physioflow-smoke-blue`));
            // The inactive color is scaled only after the live Service has left it.
            assert.ok(find(run, Deployment, `${app}-blue`).options.dependsOn.includes(`${Service}/${app}`));
        }
        for (const color of ["blue", "green"]) {
            const job = find(run, Job, `physioflow-smoke-${color}`);
            for (const app of ["physioflow-api", "physioflow-web"]) {
                assert.ok(job.options.dependsOn.includes(`${Deployment}/${app}-${color}`), `smoke-${color} does not wait for ${app}-${color}`);
                assert.ok(job.options.dependsOn.includes(`${Service}/${app}-${color}`), `smoke-${color} does not wait for its Service ${app}-${color}`);
            }
            // A fixed name: the old Job must be deleted before its replacement runs.
            assert.strictEqual(job.options.deleteBeforeReplace, true);
            assert.deepStrictEqual(job.options.customTimeouts, { create: "150s", update: "150s", delete: undefined });
        }
    });

    it("scaleDownDelaySeconds: an update that moves the live Services off a color and scales it to 0 sends that scale-down only the delay after the Services; a warm old color, a first deploy or no switch waits nothing", async function () {
        this.timeout(60_000);
        /** When each resource was registered, as ms since the run began. */
        const registered = async (settings: Record<string, string>, previousActive?: string, preview = false) => {
            const started = Date.now();
            const at = new Map<string, number>();
            await runUnderMocks(
                "prod",
                stackConfigWithSecrets("prod", { blueTag: "v1.2.2", greenTag: "v1.2.2", ...settings }),
                {
                    preview,
                    ...(previousActive === undefined ? {} : { previousOutputs: { activeColor: previousActive, tags: { blue: "v1.2.2", green: "v1.2.2" } } }),
                },
                args => at.set(`${args.type}/${args.name}`, Date.now() - started),
            );
            return (name: string) => at.get(name)!;
        };
        const gap = (at: (name: string) => number, app: string, color: string) => at(`${Deployment}/${app}-${color}`) - at(`${Service}/${app}`);

        const switched = await registered({ activeColor: "green", scaleDownDelaySeconds: "2" }, "blue");
        for (const app of ["physioflow-api", "physioflow-web"])
            assert.ok(gap(switched, app, "blue") >= 2000, `${app}-blue scaled down ${gap(switched, app, "blue")} ms after ${app} moved`);
        for (const [settings, previous, why] of [
            [{ activeColor: "green", scaleDownDelaySeconds: "2", inactiveWarm: "true" }, "blue", "the old color stays warm"],
            [{ activeColor: "green", scaleDownDelaySeconds: "2" }, undefined, "a first deploy"],
            [{ activeColor: "green", scaleDownDelaySeconds: "2" }, "green", "no switch"],
            [{ activeColor: "green", scaleDownDelaySeconds: "0" }, "blue", "no delay set"],
        ] as const) {
            const at = await registered(settings, previous);
            assert.ok(gap(at, "physioflow-api", "blue") < 1000, `${why}: waited ${gap(at, "physioflow-api", "blue")} ms`);
        }
        // A preview of the same switch waits nothing (it sends nothing).
        const previewed = await registered({ activeColor: "green", scaleDownDelaySeconds: "2" }, "blue", true);
        assert.ok(gap(previewed, "physioflow-api", "blue") < 1000, `a preview waited ${gap(previewed, "physioflow-api", "blue")} ms`);
    });

    it("the smoke Job runs the checks once against the color's own Services, with the tag, migration version and the color's settings and login in its pod template", async () => {
        const run = await runProgram(
            "dev",
            stackConfigWithSecrets("dev", {
                activeColor: "blue",
                blueTag: "v1.2.2",
                smokeImage: "registry.example.test/tools/curl:8.11.1",
                smokeChecks: "api:/health=200, web:/=200, api:/api/patients=401",
            }),
        );
        const job = find(run, Job, "physioflow-smoke-blue").inputs;
        assert.strictEqual(job.metadata.name, "physioflow-smoke-blue");
        assert.strictEqual(job.metadata.namespace, "physioflow-dev");
        assert.strictEqual(job.spec.backoffLimit, 0);
        assert.strictEqual(job.spec.activeDeadlineSeconds, 120);
        assert.strictEqual(job.spec.ttlSecondsAfterFinished, undefined, "a Job removed by its TTL would be drift");
        const pod = job.spec.template;
        assert.deepStrictEqual(pod.metadata.annotations, {
            "physioflow/tag": "v1.2.2",
            "physioflow/migration-version": "006",
            // The color's settings and login, by their objects' names: new ones re-run the test.
            "physioflow/release": "physioflow-api-config-blue-0a1b2c3d,physioflow-web-config-blue-0a1b2c3d,physioflow-secrets-blue-0a1b2c3d",
        });
        assert.strictEqual(pod.spec.restartPolicy, "Never");
        assert.strictEqual(pod.spec.securityContext.runAsNonRoot, true);
        const container = pod.spec.containers[0];
        assert.strictEqual(container.image, "registry.example.test/tools/curl:8.11.1");
        assert.deepStrictEqual(container.command, [
            "/bin/sh",
            "-c",
            smokeScript([
                { app: "api", path: "/health", status: 200 },
                { app: "web", path: "/", status: 200 },
                { app: "api", path: "/api/patients", status: 401 },
            ]),
        ]);
        assert.deepStrictEqual(container.env, [
            { name: "PHYSIOFLOW_API_URL", value: "http://physioflow-api-blue:7011" },
            { name: "PHYSIOFLOW_WEB_URL", value: "http://physioflow-web-blue:3000" },
            { name: "PHYSIOFLOW_TAG", value: "v1.2.2" },
            { name: "PHYSIOFLOW_MIGRATION_VERSION", value: "006" },
            // The web build check: the stack's apiUrl, which the web color must have baked in.
            { name: "PHYSIOFLOW_WEB_API_URL", value: "https://physioflow-dev.trancloud.work/api" },
        ]);
        // A color with no pods has nothing to test.
        assert.strictEqual(run.resources.filter(r => r.type === Job && r.name === "physioflow-smoke-green").length, 0);
        // The color Services select one color whatever is live, and do not wait for endpoints a cold color lacks.
        const colorService = find(run, Service, "physioflow-api-green").inputs;
        assert.deepStrictEqual(colorService.spec.selector, { app: "physioflow-api", version: "green" });
        assert.strictEqual(colorService.metadata.annotations["pulumi.com/skipAwait"], "true");
    });

    it("the web build check expects exactly the NEXT_PUBLIC_API_URL the program gives the web build, per stack, in both colors' Jobs", async () => {
        for (const apiUrl of ["https://physioflow-dev.trancloud.work/api", "https://api.other.example.test/v2"]) {
            const run = await runProgram("dev", stackConfigWithSecrets("dev", { apiUrl, inactiveWarm: "true" }));
            for (const color of ["blue", "green"]) {
                const webBuild = find(run, ConfigMap, `physioflow-web-config-${color}`).inputs.data.NEXT_PUBLIC_API_URL;
                assert.strictEqual(webBuild, apiUrl);
                const env = find(run, Job, `physioflow-smoke-${color}`).inputs.spec.template.spec.containers[0].env as { name: string; value: string }[];
                assert.deepStrictEqual(
                    env.filter(e => e.name === "PHYSIOFLOW_WEB_API_URL"),
                    [{ name: "PHYSIOFLOW_WEB_API_URL", value: webBuild }],
                    color,
                );
            }
        }
    });

    it("an emergency rollback's one-off smoke Job runs the same script with the same variables as the stack's, the web build check included", async () => {
        const run = await runProgram("dev", stackConfigWithSecrets("dev", { activeColor: "blue", blueTag: "v1.2.2" }));
        const stackJob = find(run, Job, "physioflow-smoke-blue").inputs;
        const annotations = stackJob.spec.template.metadata.annotations as Record<string, string>;
        const settings = parseStackConfig(
            Object.fromEntries(Object.entries(stackFileConfig("dev")).map(([key, value]) => [key.replace(/^physioflow:/, ""), value])),
        );
        const emergency = emergencySmokeJob({
            namespace: "physioflow-dev",
            color: "blue",
            name: emergencySmokeJobName("blue"),
            settings,
            tag: annotations["physioflow/tag"],
            migrationVersion: annotations["physioflow/migration-version"],
            release: annotations["physioflow/release"],
        });
        const [theirs, ours] = [emergency.spec.template.spec.containers[0], stackJob.spec.template.spec.containers[0]];
        assert.deepStrictEqual(theirs.command, ours.command);
        assert.deepStrictEqual(theirs.env, ours.env);
        assert.ok(theirs.env.some(e => e.name === "PHYSIOFLOW_WEB_API_URL" && e.value === settings.apiUrl));
        assert.strictEqual(theirs.image, ours.image);
    });

    it("an emergency rollback's one-off smoke Job is placed as the stack's Job and the colors' pods are (podNodeLabel, imagePullPolicy); unplaced when unset", async () => {
        const placement = { podNodeLabel: "physioflow.dev/node=real", imagePullPolicy: "Never" };
        for (const extra of [placement, {}] as Record<string, string>[]) {
            const run = await runProgram("dev", stackConfigWithSecrets("dev", extra));
            const stackPod = find(run, Job, "physioflow-smoke-blue").inputs.spec.template.spec;
            const colorPod = find(run, Deployment, "physioflow-api-blue").inputs.spec.template.spec;
            const settings = parseStackConfig({
                ...Object.fromEntries(Object.entries(stackFileConfig("dev")).map(([key, value]) => [key.replace(/^physioflow:/, ""), value])),
                ...extra,
            });
            const emergencyPod = emergencySmokeJob({
                namespace: "physioflow-dev",
                color: "blue",
                name: emergencySmokeJobName("blue"),
                settings,
                tag: "v1.2.2",
                migrationVersion: "006",
                release: "a,b,c",
            }).spec.template.spec as Record<string, any>;
            const placed = (pod: Record<string, any>) => ({
                nodeSelector: pod.nodeSelector,
                tolerations: pod.tolerations,
                imagePullPolicy: pod.containers[0].imagePullPolicy,
            });
            assert.deepStrictEqual(placed(emergencyPod), placed(stackPod));
            assert.deepStrictEqual(placed(stackPod), placed(colorPod));
            assert.deepStrictEqual(
                placed(emergencyPod),
                "podNodeLabel" in extra
                    ? {
                          nodeSelector: { "physioflow.dev/node": "real" },
                          tolerations: [{ key: "physioflow.dev/node", operator: "Equal", value: "real", effect: "NoSchedule" }],
                          imagePullPolicy: "Never",
                      }
                    : { nodeSelector: undefined, tolerations: undefined, imagePullPolicy: undefined },
            );
        }
    });

    it("defaults: the runbook's checks (API health, web root) with a curl image", async () => {
        const run = await runProgram("dev", stackConfigWithSecrets("dev"));
        const container = find(run, Job, "physioflow-smoke-blue").inputs.spec.template.spec.containers[0];
        assert.strictEqual(container.image, "curlimages/curl:8.11.1");
        assert.strictEqual(
            container.command[2],
            smokeScript([
                { app: "api", path: "/health", status: 200 },
                { app: "web", path: "/", status: 200 },
            ]),
        );
    });
});

describe("the live color's tag is never changed in place", () => {
    const previousOutputs = { activeColor: "blue", tags: { blue: "v1.2.2", green: "v1.2.3" } };

    it("is refused with one line naming the safe way, before any resource is registered", async () => {
        let registered = -1;
        await assert.rejects(
            async () => {
                const run = await runProgram("prod", stackConfigWithSecrets("prod", { activeColor: "blue", blueTag: "v1.3.0", greenTag: "v1.2.3" }), {
                    previousOutputs,
                });
                registered = run.resources.length;
            },
            {
                message:
                    "physioflow:blueTag v1.2.2 -> v1.3.0 would replace the live color's pods in place (blue is active); release to green instead: " +
                    "pulumi config set blueTag v1.2.2 && pulumi config set greenTag v1.3.0, pulumi up, then pulumi config set activeColor green",
            },
        );
        assert.strictEqual(registered, -1);
    });

    it("allows a release to the inactive color, a switch, a release and switch in one update, and a first deploy", async () => {
        const ok = (settings: Record<string, string>, previous?: Record<string, unknown>) =>
            runProgram("prod", stackConfigWithSecrets("prod", settings), { previousOutputs: previous });
        await ok({ activeColor: "blue", blueTag: "v1.2.2", greenTag: "v1.3.0" }, previousOutputs);
        await ok({ activeColor: "green", blueTag: "v1.2.2", greenTag: "v1.2.3" }, previousOutputs);
        // The new color's smoke test still runs before the live Services move.
        await ok({ activeColor: "green", blueTag: "v1.2.2", greenTag: "v1.4.0" }, previousOutputs);
        await ok({ activeColor: "blue", blueTag: "v9.9.9" }, undefined);
    });
});
