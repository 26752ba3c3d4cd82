/**
 * The pure decisions of `physioflow import` (release/importExisting.ts): what it adopts, creates
 * and leaves alone from the namespace's objects, when it refuses for the live color, and what it
 * says the next `up` will do. The import itself runs on the real engine in
 * tests/engine/importExisting.test.ts and tests/engine/importRunbookApp.test.ts.
 */
import * as assert from "assert";
import { namedObjects } from "../../components/appNames";
import { ResourceStep } from "../../release/engineEvents";
import { adoptionPlan, liveColorConflict, NamespaceObject, pendingEffects } from "../../release/importExisting";

const object = (kind: string, name: string, extra: Partial<NamespaceObject> = {}): NamespaceObject => ({ kind, metadata: { name }, ...extra });

describe("physioflow import: the plan from the namespace's objects", () => {
    it("adopts the named objects found, creates the others, and leaves the rest alone, Kubernetes' own left out", () => {
        const plan = adoptionPlan([
            object("Deployment", "physioflow-api-blue"),
            object("Service", "physioflow-api"),
            object("ConfigMap", "migration-version"),
            object("Secret", "physioflow-secrets", { type: "Opaque" }),
            object("Deployment", "redis"),
            object("ConfigMap", "kube-root-ca.crt"),
            object("Secret", "default-token-x", { type: "kubernetes.io/service-account-token" }),
        ]);
        assert.deepStrictEqual(plan.adopt, ["Deployment/physioflow-api-blue", "Service/physioflow-api", "ConfigMap/migration-version"]);
        assert.deepStrictEqual(plan.leftAlone, ["Deployment/redis", "Secret/physioflow-secrets"]);
        assert.deepStrictEqual(
            plan.create,
            namedObjects().filter(name => !plan.adopt.includes(name)),
        );
    });

    it("an empty namespace (or none) adopts nothing and creates every named object", () => {
        assert.deepStrictEqual(adoptionPlan([]), { adopt: [], create: namedObjects(), leftAlone: [] });
    });

    it("refuses when a live Service selects another color than activeColor, and only then", () => {
        const live = (color: string) => object("Service", "physioflow-web", { spec: { selector: { app: "physioflow-web", version: color } } });
        assert.strictEqual(
            liveColorConflict([live("green")], "blue"),
            "Service/physioflow-web selects green but the stack's activeColor is blue: the next up would move traffic; " +
                "set activeColor to what is live (pulumi config set physioflow:activeColor green) and import again",
        );
        assert.strictEqual(liveColorConflict([live("blue")], "blue"), undefined);
        // Not a live Service, or one that selects no color: nothing to move.
        assert.strictEqual(liveColorConflict([object("Service", "physioflow-web-preview", { spec: { selector: { version: "green" } } })], "blue"), undefined);
        assert.strictEqual(liveColorConflict([object("Service", "physioflow-web", { spec: { selector: { app: "physioflow-web" } } })], "blue"), undefined);
    });
});

describe("physioflow import: what the next up does, from its preview", () => {
    const step = (type: string, name: string, op: ResourceStep["op"], diffs: string[] = []): ResourceStep => ({
        urn: `urn:pulumi:s::physioflow::${type}::${name}`,
        type,
        name,
        op,
        diffs,
        replaceBecause: [],
    });
    it("names the Deployments whose pod template changes, what is replaced, and a live Service whose selector moves", () => {
        const effects = pendingEffects([
            step("kubernetes:apps/v1:Deployment", "physioflow-web-blue", "update", ["spec.template.spec.containers[0].image"]),
            step("kubernetes:apps/v1:Deployment", "physioflow-api-green", "update", ["spec.replicas", "metadata.labels"]),
            step("kubernetes:apps/v1:Deployment", "physioflow-api-blue", "update", ["spec.template"]),
            step("kubernetes:apps/v1:Deployment", "physioflow-api-templates", "update", ["spec.templates"]),
            step("kubernetes:core/v1:ConfigMap", "migration-version", "replace", ["data"]),
            step("kubernetes:core/v1:Service", "physioflow-api", "update", ["spec.selector.version"]),
            step("kubernetes:core/v1:Service", "physioflow-web", "update", ["spec.ports"]),
            step("kubernetes:core/v1:Service", "physioflow-web-preview", "update", ["spec.selector.version"]),
        ]);
        assert.deepStrictEqual(effects, {
            restarts: ["Deployment/physioflow-api-blue", "Deployment/physioflow-web-blue"],
            replaced: ["ConfigMap/migration-version"],
            moved: ["Service/physioflow-api"],
        });
    });
});
