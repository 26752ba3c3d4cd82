import * as assert from "assert";
import { colorForArchive, replicasToGiveBack } from "../../release/restoreRollback";

describe("colorForArchive: the color a restore brings back", () => {
    const tags = { blue: "v1.0.0", green: "v2.0.0" };
    const archive = "/backups/prod_pre-migrate-007_20261201_120000.tar.gz";
    const recorded = (live: "blue" | "green", colors: { blue: string; green: string }) => ({
        image_tags: { api: colors[live], web: colors[live] },
        colors,
        live,
    });

    it("the color running the tag that was live when the archive was taken, whichever color that is now", () => {
        assert.strictEqual(colorForArchive(tags, "green", recorded("blue", { blue: "v1.0.0", green: "v2.0.0" }), archive), "blue");
        // After a flip and a release the tag may have moved: the color that runs it now counts.
        assert.strictEqual(colorForArchive(tags, "blue", recorded("green", { blue: "v0.9.0", green: "v2.0.0" }), archive), "green");
        // Archives from before `colors`: image_tags.api is the live tag.
        assert.strictEqual(colorForArchive(tags, "blue", { image_tags: { api: "v2.0.0" } }, archive), "green");
    });

    it("both colors run the tag: the color that was live then, else the active one", () => {
        const same = { blue: "v1.0.0", green: "v1.0.0" };
        assert.strictEqual(colorForArchive(same, "blue", recorded("green", same), archive), "green");
        assert.strictEqual(colorForArchive(same, "green", { image_tags: { api: "v1.0.0" } }, archive), "green");
    });

    it("refuses in one line naming --color when the archive records no tag or no color runs it", () => {
        assert.throws(
            () => colorForArchive(tags, "blue", { image_tags: {} }, archive),
            /^Error: prod_pre-migrate-007_20261201_120000\.tar\.gz records no image tags, so the color that runs its schema is unknown; choose the color to bring back with --color blue\|green$/,
        );
        assert.throws(
            () => colorForArchive(tags, "blue", recorded("blue", { blue: "v0.9.0", green: "v1.0.0" }), archive),
            /^Error: prod_pre-migrate-007_20261201_120000\.tar\.gz was taken while v0\.9\.0 was live, but blue runs v1\.0\.0 and green v2\.0\.0; choose the color to bring back with --color blue\|green, or release v0\.9\.0 to the inactive color first \(physioflow deploy\)$/,
        );
    });
});

describe("replicasToGiveBack: what a restore scales the API back to", () => {
    const deployment = (name: string, replicas?: number) => ({
        metadata: { name },
        spec: { ...(replicas === undefined ? {} : { replicas }), template: { spec: { containers: [{ image: "r/physioflow-api:v1" }] } } },
    });

    it("each API Deployment's desired count before the scale to 0; an unset spec.replicas is 1 (Kubernetes' default), never 0", () => {
        assert.deepStrictEqual(replicasToGiveBack([deployment("physioflow-api-blue", 3), deployment("physioflow-api-green")]), {
            "physioflow-api-blue": 3,
            "physioflow-api-green": 1,
        });
        assert.deepStrictEqual(replicasToGiveBack([deployment("physioflow-api-green", 0)]), { "physioflow-api-green": 0 });
    });
});
