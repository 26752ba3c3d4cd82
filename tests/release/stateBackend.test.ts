/**
 * release/stateBackend.ts's pure parts: the file backend's URL and directory, and which metadata
 * files count as torn. The engine half (a torn file fails every command; opening the stack repairs
 * it; an update writes none) is in tests/engine/renderMode.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fileBackendDir, fileBackendUrl, removeTornSidecars, withoutSidecars } from "../../release/stateBackend";

describe("the file backend's metadata files (release/stateBackend.ts)", () => {
    it("asks the backend for no metadata files, keeping a URL's own options and leaving other backends alone", () => {
        assert.strictEqual(fileBackendUrl("/srv/state"), "file:///srv/state?metadata=skip");
        assert.strictEqual(withoutSidecars("file:///srv/state"), "file:///srv/state?metadata=skip");
        assert.strictEqual(withoutSidecars("file:///srv/state?no_tmp_dir=false"), "file:///srv/state?no_tmp_dir=false&metadata=skip");
        assert.strictEqual(withoutSidecars("file:///srv/state?metadata=skip"), "file:///srv/state?metadata=skip");
        assert.strictEqual(withoutSidecars("s3://bucket/state?region=eu"), "s3://bucket/state?region=eu");
    });

    it("finds the directory of a file backend (~ expanded, options dropped), and none for other backends", () => {
        assert.strictEqual(fileBackendDir("file:///srv/state?metadata=skip"), "/srv/state");
        assert.strictEqual(fileBackendDir("file://~/state"), path.join(os.homedir(), "state"));
        assert.strictEqual(fileBackendDir("file://~"), os.homedir());
        assert.strictEqual(fileBackendDir("s3://bucket"), undefined);
        assert.strictEqual(fileBackendDir("https://api.pulumi.com"), undefined);
    });

    it("removes the empty and half-written metadata files under .pulumi, and only those", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-state-"));
        try {
            const stacks = path.join(dir, ".pulumi", "stacks", "physioflow");
            fs.mkdirSync(stacks, { recursive: true });
            const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, ".pulumi", file), text);
            write("stacks/physioflow/prod.json", "{}");
            write("stacks/physioflow/prod.json.attrs", ""); // truncated, never written: the kill's window
            write("stacks/physioflow/prod.json.bak.attrs", '{"user.content_type":"app'); // cut mid-write
            write("stacks/physioflow/dev.json.attrs", '{"user.content_type":"application/octet-stream"}\n');
            write("meta.yaml.attrs", "");
            write("stacks/physioflow/notes.txt", "");
            assert.deepStrictEqual(removeTornSidecars(dir).sort(), [
                ".pulumi/meta.yaml.attrs",
                ".pulumi/stacks/physioflow/prod.json.attrs",
                ".pulumi/stacks/physioflow/prod.json.bak.attrs",
            ]);
            assert.deepStrictEqual(fs.readdirSync(stacks).sort(), ["dev.json.attrs", "notes.txt", "prod.json"]);
            assert.deepStrictEqual(removeTornSidecars(dir), [], "a second pass finds nothing");
            assert.deepStrictEqual(removeTornSidecars(path.join(dir, "none")), [], "a backend with no state yet");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
