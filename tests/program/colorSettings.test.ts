/**
 * Settings and credentials flow like a tag (issue 9, items 1 and 2): each color keeps the settings
 * and the database login it was released with; a change reaches the inactive color, is checked
 * there and takes traffic with a switch; a switch back returns to the old ones. Pure rules first,
 * then the program under mocks, each update reading the last one's outputs as the real one does.
 */
import * as assert from "assert";
import { checkCredentialStep, credentialDigest, parseCredentialDigests } from "../../components/colorCredentials";
import { ColorSettings, parseColorSettings, settingsByColor, settingsDigest, stackColorSettings } from "../../components/colorSettings";
import { checkReleaseStep, parsePreviousRelease } from "../../components/releaseGuard";
import { parseStackConfig } from "../../components/config";
import { diffRuns } from "../support/inputDiff";
import { defaultSecretKeys, find, ProgramRun, runProgram, stackConfigWithSecrets, stackFileConfig } from "../support/programRun";

const ConfigMap = "kubernetes:core/v1:ConfigMap";
const Secret = "kubernetes:core/v1:Secret";
const Role = "postgresql:index/role:Role";

const raw = (overrides: Record<string, string> = {}) => {
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(stackFileConfig("prod"))) values[key.replace(/^physioflow:/, "")] = value;
    return parseStackConfig({ ...values, ...overrides });
};

describe("settingsByColor: which settings each color runs with", () => {
    const before = raw();
    const changed = raw({ keycloakUrl: "https://keycloak-2.example.test" });
    const old = stackColorSettings(before);
    const recorded = (activeColor: "blue" | "green", colorSettings: Record<"blue" | "green", ColorSettings>, digestOf = before) => ({
        activeColor,
        tags: before.tags,
        colorSettings,
        settingsDigest: settingsDigest(stackColorSettings(digestOf)),
    });

    it("a first update (nothing recorded) gives both colors the stack's settings", () => {
        assert.deepStrictEqual(settingsByColor(undefined, changed), { blue: stackColorSettings(changed), green: stackColorSettings(changed) });
        assert.deepStrictEqual(settingsByColor({ activeColor: "blue", tags: before.tags }, changed), {
            blue: stackColorSettings(changed),
            green: stackColorSettings(changed),
        });
    });

    it("changed settings reach the inactive color only; the live color keeps what it was released with", () => {
        const result = settingsByColor(recorded("blue", { blue: old, green: old }), changed);
        assert.deepStrictEqual(result.blue, old);
        assert.deepStrictEqual(result.green, stackColorSettings(changed));
        assert.strictEqual(result.green.api.env.KEYCLOAK_URL, "https://keycloak-2.example.test");
        assert.strictEqual(result.blue.api.env.KEYCLOAK_URL, "https://keycloak.trancloud.work");
    });

    it("with nothing changed each color keeps its own (a switch, a switch back, a re-run): so a rollback returns to the old settings", () => {
        const previous = recorded("green", { blue: old, green: stackColorSettings(changed) }, changed);
        for (const activeColor of ["blue", "green"]) {
            const result = settingsByColor(previous, raw({ keycloakUrl: "https://keycloak-2.example.test", activeColor }));
            assert.deepStrictEqual(result, { blue: old, green: stackColorSettings(changed) }, `activeColor ${activeColor}`);
        }
    });

    it("a new tag for the inactive color is a release: it takes the stack's settings", () => {
        const previous = recorded("green", { blue: old, green: stackColorSettings(changed) }, changed);
        const result = settingsByColor(previous, raw({ keycloakUrl: "https://keycloak-2.example.test", activeColor: "green", blueTag: "v1.4.0" }));
        assert.deepStrictEqual(result.blue, stackColorSettings(changed));
        assert.deepStrictEqual(result.green, stackColorSettings(changed));
    });

    it("a release and a switch in one update: the new live color was the inactive one, it takes the stack's settings", () => {
        const result = settingsByColor(
            recorded("blue", { blue: old, green: old }),
            raw({ keycloakUrl: "https://keycloak-2.example.test", activeColor: "green" }),
        );
        assert.deepStrictEqual(result, { blue: old, green: stackColorSettings(changed) });
    });

    it("probes, resources and health paths are settings too", () => {
        const slower = raw({ startupTimeoutSeconds: "300", apiResources: "limits.memory=1Gi", webHealthPath: "/healthz" });
        const result = settingsByColor(recorded("blue", { blue: old, green: old }), slower);
        assert.deepStrictEqual(result.blue, old);
        assert.strictEqual(result.green.api.probes.startupTimeoutSeconds, 300);
        assert.strictEqual(result.green.api.resources.limits.memory, "1Gi");
        assert.strictEqual(result.green.web.healthPath, "/healthz");
    });

    it("how pods stop is a setting too; the live color's recorded settings without it stay without it (its pods are not restarted)", () => {
        const sleepier = raw({ preStopSleepSeconds: "15" });
        assert.deepStrictEqual(stackColorSettings(sleepier).api.shutdown, { preStopSleepSeconds: 15, terminationGracePeriodSeconds: 45 });
        const { shutdown: _api, ...apiBefore } = old.api;
        const { shutdown: _web, ...webBefore } = old.web;
        const beforeShutdown: ColorSettings = { api: apiBefore, web: webBefore };
        const byColor = settingsByColor(
            { ...recorded("blue", { blue: beforeShutdown, green: beforeShutdown }), settingsDigest: settingsDigest(beforeShutdown) },
            before,
        );
        assert.strictEqual(byColor.blue.api.shutdown, undefined);
        assert.deepStrictEqual(byColor.green.api.shutdown, { preStopSleepSeconds: 5, terminationGracePeriodSeconds: 35 });
        assert.deepStrictEqual(parseColorSettings({ blue: beforeShutdown })?.blue, beforeShutdown);
    });

    it("the digest does not depend on the order of keys", () => {
        const reordered = JSON.parse(
            JSON.stringify({
                web: old.web,
                api: { shutdown: old.api.shutdown, probes: old.api.probes, env: old.api.env, resources: old.api.resources, healthPath: old.api.healthPath },
            }),
        );
        assert.strictEqual(settingsDigest(reordered), settingsDigest(old));
        assert.notStrictEqual(settingsDigest(stackColorSettings(changed)), settingsDigest(old));
    });
});

describe("checkCredentialStep: the live color's password is never changed in place", () => {
    const digests = { blue: credentialDigest("a"), green: credentialDigest("b") };
    const message =
        "physioflow:blueDbPassword changed while blue is live: blue's pods would lose their database login; " +
        "put the old value back and rotate green first: pulumi config set --secret greenDbPassword <new>, pulumi up, " +
        'pulumi config set activeColor green, pulumi up; then blue\'s (docs/database.md, "Rotating a password")';

    it("refuses a new password for the color that was live, whether or not the update switches away from it", () => {
        assert.throws(() => checkCredentialStep({ activeColor: "blue", credentialDigests: digests }, { blue: credentialDigest("a2"), green: digests.green }), {
            message,
        });
    });

    it("allows the inactive color's, a first update, and an update that changes neither", () => {
        checkCredentialStep({ activeColor: "blue", credentialDigests: digests }, { blue: digests.blue, green: credentialDigest("b2") });
        checkCredentialStep(undefined, digests);
        checkCredentialStep({ activeColor: "blue" }, { blue: credentialDigest("x"), green: credentialDigest("y") });
        checkCredentialStep({ activeColor: "blue", credentialDigests: digests }, digests);
    });

    it("the digest is not the password and differs per password", () => {
        assert.notStrictEqual(credentialDigest("a"), credentialDigest("b"));
        assert.ok(!credentialDigest("secret-password").includes("secret-password"));
        assert.match(credentialDigest("a"), /^[0-9a-f]{32}$/);
    });
});

/** Runs the prod program as an update after `previous` (its outputs read back through the StackReference). */
async function update(settings: Record<string, string>, previous?: ProgramRun): Promise<ProgramRun> {
    return runProgram("prod", stackConfigWithSecrets("prod", settings), {
        previousOutputs: previous?.outputs,
        previousSecretOutputNames: previous === undefined ? [] : ["credentialDigests"],
        secretKeys: defaultSecretKeys,
    });
}

const describeChange = (c: { resource: string; path: string }) => `${c.resource} ${c.path}`;

describe("settings and passwords in the program, update after update", () => {
    const base = { activeColor: "blue", blueTag: "v1.2.2", greenTag: "v1.2.2" };
    const keycloak2 = { keycloakUrl: "https://keycloak-2.example.test" };

    it("a settings change reaches only the inactive color's ConfigMaps; a switch moves traffic to it; a switch back returns to the old settings", async () => {
        const steady = await update(base, await update(base));
        const changed = await update({ ...base, ...keycloak2 }, steady);
        assert.deepStrictEqual(diffRuns(steady, changed).map(describeChange).sort(), [
            `${ConfigMap}/physioflow-api-config-green data.KEYCLOAK_URL`,
            `${ConfigMap}/physioflow-web-config-green data.NEXT_PUBLIC_KEYCLOAK_URL`,
        ]);
        const switched = await update({ ...base, ...keycloak2, activeColor: "green" }, changed);
        assert.strictEqual(find(switched, ConfigMap, "physioflow-api-config-green").inputs.data.KEYCLOAK_URL, "https://keycloak-2.example.test");
        assert.strictEqual(find(switched, ConfigMap, "physioflow-api-config-blue").inputs.data.KEYCLOAK_URL, "https://keycloak.trancloud.work");
        // Nothing pending after the switch: a re-run changes nothing.
        assert.deepStrictEqual(diffRuns(switched, await update({ ...base, ...keycloak2, activeColor: "green" }, switched)), []);
        const rolledBack = await update({ ...base, ...keycloak2, activeColor: "blue" }, switched);
        assert.strictEqual(find(rolledBack, ConfigMap, "physioflow-api-config-blue").inputs.data.KEYCLOAK_URL, "https://keycloak.trancloud.work");
        assert.ok(
            diffRuns(switched, rolledBack).every(c => !c.resource.startsWith(ConfigMap)),
            "a rollback changed a ConfigMap",
        );
    });

    it("a new password for the inactive color changes only its role and its Secret", async () => {
        const steady = await update(base, await update(base));
        const rotated = await update({ ...base, greenDbPassword: "green-rotated" }, steady);
        const changes = diffRuns(steady, rotated).map(describeChange).sort();
        assert.deepStrictEqual(changes, [
            `${Secret}/physioflow-secrets-green stringData.value.POSTGRES_PASSWORD`,
            `${Role}/physioflow_prod-emr_green password.value`,
        ]);
        assert.notStrictEqual(rotated.outputs.credentialDigests.green, steady.outputs.credentialDigests.green);
        assert.strictEqual(rotated.outputs.credentialDigests.blue, steady.outputs.credentialDigests.blue);
    });

    it("a new password for the live color stops the update with one line before any resource", async () => {
        const steady = await update(base);
        let registered = -1;
        await assert.rejects(
            async () => {
                registered = (await update({ ...base, blueDbPassword: "blue-rotated" }, steady)).resources.length;
            },
            {
                message:
                    /^physioflow:blueDbPassword changed while blue is live: blue's pods would lose their database login; put the old value back and rotate green first/,
            },
        );
        assert.strictEqual(registered, -1);
        // Also in the update that switches away from it: its pods serve until the Services have moved.
        await assert.rejects(
            update({ ...base, activeColor: "green", blueDbPassword: "blue-rotated" }, steady),
            /physioflow:blueDbPassword changed while blue is live/,
        );
    });

    it("the owner's password (migrations and backups) changes nothing in the cluster", async () => {
        const steady = await update(base);
        const rotated = await update({ ...base, dbPassword: "owner-rotated" }, steady);
        assert.ok(
            diffRuns(steady, rotated).every(c => !c.resource.startsWith("kubernetes:")),
            JSON.stringify(diffRuns(steady, rotated).map(describeChange)),
        );
    });

    it("each color logs in as its own role: a member of the owner that becomes it at login, protected like the owner", async () => {
        const run = await update(base);
        for (const color of ["blue", "green"]) {
            const role = find(run, Role, `physioflow_prod-emr_${color}`);
            assert.deepStrictEqual(
                { ...role.inputs, password: undefined },
                {
                    name: `emr_${color}`,
                    login: true,
                    roles: ["emr"],
                    inherit: true,
                    assumeRole: "emr",
                    password: undefined,
                },
            );
            assert.strictEqual(role.options.protect, true);
            assert.strictEqual(role.options.retainOnDelete, true);
            assert.deepStrictEqual(role.options.dependsOn, [
                "postgresql:index/database:Database/physioflow_prod",
                "postgresql:index/role:Role/physioflow_prod-emr",
            ]);
            assert.strictEqual(role.options.parent, "physioflow:db:AppDatabase/physioflow_prod");
        }
    });
});

describe("reading the last update's outputs back (parsePreviousRelease and its parts)", () => {
    const settings = stackColorSettings(raw());
    const outputs = (overrides: Record<string, unknown> = {}) => ({
        activeColor: { value: "green" },
        tags: { value: { blue: "v1", green: "v2" } },
        colorSettings: { value: { blue: settings, green: settings } },
        settingsDigest: { value: "0123456789abcdef" },
        credentialDigests: { secretValue: { blue: "b", green: "g" } },
        ...overrides,
    });

    it("reads every recorded part, the digests from the secret value", () => {
        assert.deepStrictEqual(parsePreviousRelease(outputs()), {
            activeColor: "green",
            tags: { blue: "v1", green: "v2" },
            colorSettings: { blue: settings, green: settings },
            settingsDigest: "0123456789abcdef",
            credentialDigests: { blue: "b", green: "g" },
        });
        // An output that was not secret (an older state) is read from its value.
        assert.deepStrictEqual(parsePreviousRelease(outputs({ credentialDigests: { value: { blue: "b" } } }))!.credentialDigests, { blue: "b" });
    });

    it("no valid active color or tags: no previous release (a first update)", () => {
        for (const broken of [
            { activeColor: undefined },
            { activeColor: { value: 1 } },
            { activeColor: { value: "purple" } },
            { tags: undefined },
            { tags: { value: null } },
            { tags: { value: "v1" } },
        ]) {
            assert.strictEqual(parsePreviousRelease(outputs(broken)), undefined, JSON.stringify(broken));
        }
    });

    it("anything not shaped like settings or digests reads as not recorded", () => {
        const read = (overrides: Record<string, unknown>) => parsePreviousRelease(outputs(overrides))!;
        assert.strictEqual(read({ settingsDigest: { value: 5 } }).settingsDigest, undefined);
        assert.strictEqual(read({ colorSettings: undefined }).colorSettings, undefined);
        assert.strictEqual(read({ credentialDigests: undefined }).credentialDigests, undefined);
        for (const value of [null, "x", {}, { blue: null }, { blue: "x" }, { purple: settings }]) {
            assert.strictEqual(parseColorSettings(value), undefined, JSON.stringify(value));
        }
        const app = settings.api;
        const broken = [
            { ...app, env: undefined },
            { ...app, env: "A=1" },
            { ...app, healthPath: 5 },
            { ...app, resources: null },
            { ...app, probes: undefined },
            "x",
            null,
        ];
        for (const bad of broken) {
            assert.deepStrictEqual(parseColorSettings({ blue: { api: bad, web: app }, green: settings }), { green: settings }, `api ${JSON.stringify(bad)}`);
            assert.deepStrictEqual(parseColorSettings({ blue: { api: app, web: bad }, green: settings }), { green: settings }, `web ${JSON.stringify(bad)}`);
        }
        for (const value of [null, "x", 3, {}, { blue: 1 }, { purple: "p" }]) {
            assert.strictEqual(parseCredentialDigests(value), undefined, JSON.stringify(value));
        }
        assert.deepStrictEqual(parseCredentialDigests({ blue: "b", green: 7 }), { blue: "b" });
    });

    it("settings read back from the outputs (an undefined member left out, as JSON leaves it) digest as they did", () => {
        const withoutCpuLimit = {
            ...settings,
            api: { ...settings.api, resources: { ...settings.api.resources, limits: { cpu: undefined, memory: "512Mi" } } },
        };
        assert.strictEqual(settingsDigest(JSON.parse(JSON.stringify(withoutCpuLimit))), settingsDigest(withoutCpuLimit));
        assert.notStrictEqual(settingsDigest(withoutCpuLimit), settingsDigest(settings));
    });
});

describe("the guards' edges", () => {
    it("the tag guard: switching away from the live color may change its tag; a live color with no recorded tag is not guarded", () => {
        const settings = raw({ activeColor: "green", blueTag: "v0.9.0", greenTag: "v1.2.3" });
        checkReleaseStep({ activeColor: "blue", tags: { blue: "v1.2.2", green: "v1.2.3" } }, settings);
        checkReleaseStep({ activeColor: "green", tags: { blue: "v1.2.2" } as Record<"blue" | "green", string> }, settings);
        assert.throws(
            () => checkReleaseStep({ activeColor: "green", tags: { blue: "v1.2.2", green: "v1.0.0" } }, settings),
            /physioflow:greenTag v1.0.0 -> v1.2.3/,
        );
    });

    it("the password guard: a live color with no recorded digest (a state from before) is not guarded", () => {
        checkCredentialStep({ activeColor: "blue", credentialDigests: { green: "g" } }, { blue: credentialDigest("new"), green: "g" });
    });
});
