import * as assert from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");
const stackFiles = fs.readdirSync(repoRoot).filter(f => /^Pulumi\.[a-z0-9-]+\.yaml$/.test(f));

describe("stack files", () => {
    it("exist for the runbook's three environments", () => {
        for (const env of ["dev", "staging", "prod"]) assert.ok(stackFiles.includes(`Pulumi.${env}.yaml`), `Pulumi.${env}.yaml`);
    });

    for (const file of stackFiles) {
        it(`${file} holds no credential in plaintext`, () => {
            const doc = yaml.load(fs.readFileSync(path.join(repoRoot, file), "utf8")) as { config?: Record<string, unknown> };
            for (const [key, value] of Object.entries(doc.config ?? {})) {
                if (/password|secret|token|credential|accesskey/i.test(key)) {
                    assert.ok(
                        typeof value === "object" && value !== null && "secure" in value,
                        `${file}: ${key} is plaintext; set it with pulumi config set --secret`,
                    );
                }
            }
        });
    }
});
