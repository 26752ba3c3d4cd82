/**
 * `npm run local` on a machine where the real node cannot start (run as a user): one line saying
 * why and how to run without it, before anything starts or is written.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { realNodeUnavailable } from "../../devenv/nodeTraffic";
import { runLocal } from "../../local/run";

describe("npm run local where a real node cannot start", () => {
    const getuid = process.getuid;
    afterEach(() => {
        process.getuid = getuid;
    });

    it("as a user: refused in one line naming root and --no-node, nothing started or written", async () => {
        process.getuid = () => 1000;
        assert.match(realNodeUnavailable() ?? "", /needs root/);
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-local-user-"));
        try {
            const lines: string[] = [];
            await assert.rejects(
                runLocal(root, [], line => lines.push(line)),
                {
                    message:
                        "a real node cannot start here: it needs root (network and mount namespaces, cgroups, mounts), and this runs as a user; " +
                        "npm run local -- --no-node runs with kwok playing the pods (docs/local.md)",
                },
            );
            assert.deepStrictEqual(lines, []);
            assert.deepStrictEqual(fs.readdirSync(root), []);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    it("as root, it can try", () => {
        process.getuid = () => 0;
        assert.strictEqual(realNodeUnavailable(), undefined);
    });
});
