/**
 * The image archives scripts/apps.sh packs (devenv/apps/pack, go-containerregistry), read back as
 * containerd's import would: manifest.json, each tag's config, the layer and its diff ID; names,
 * users and ports as the program's Deployments expect them (the dev stack's golden Deployments,
 * the local stack's settings); and the web image's own files served, with the local stack's
 * NEXT_PUBLIC_* values baked in.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { webEnvironment } from "../../components/appEnvironment";
import { parseStackConfig } from "../../components/config";
import { StandInApps, standInApps } from "../../devenv/standInApps";
import { localStackSettings } from "../../local/localStackConfig";
import { layerEntries, readArchive, unpackImage } from "../support/imageArchive";
import { pageAndChunks, StandInProcess, startStandIn } from "../support/standInProcess";

/** What the program's dev Deployments run for `app`: the image's repository name, the port and the user. */
function deploymentOf(app: string): { repository: string; port: number; user: number } {
    const golden = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "program", "golden", "dev.json"), "utf8")) as { resources: { inputs: any }[] };
    const deployment = golden.resources.map(resource => resource.inputs).find(inputs => inputs?.kind === "Deployment" && inputs.metadata.labels.app === app);
    const container = deployment.spec.template.spec.containers[0];
    return {
        repository: String(container.image).replace(/^.*\/([^/:]+):[^:]+$/, "$1"),
        port: container.ports[0].containerPort,
        user: deployment.spec.template.spec.securityContext.runAsUser,
    };
}

describe("the stand-in images (scripts/apps.sh)", function () {
    let apps: StandInApps;
    let tmp: string;
    let web: StandInProcess | undefined;
    const local = localStackSettings({ backupDir: "/nowhere", dbPort: 5432 });

    before(async () => {
        apps = await standInApps();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "standin-images-"));
    });
    after(() => {
        web?.kill();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    for (const [app, archiveOf, binary] of [
        ["physioflow-api", (a: StandInApps) => a.images.api, "api"],
        ["physioflow-web", (a: StandInApps) => a.images.webLocal, "web"],
    ] as const) {
        it(`${app}: one image per local tag, named as the local stack's Deployments pull it, non-root, its binary as entrypoint, no shell`, async () => {
            const expected = deploymentOf(app);
            assert.strictEqual(expected.repository, app);
            const archive = await readArchive(archiveOf(apps), path.join(tmp, app));
            const tags = ["v1.0.0", "v1.1.0", "v1.2.0"];
            assert.ok(tags.includes(local.blueTag) && tags.includes(local.greenTag));
            assert.deepStrictEqual(
                archive.manifest.map(entry => entry.RepoTags),
                tags.map(tag => [`${local.imageRegistry}/${app}:${tag}`]),
            );
            const diffId = `sha256:${crypto.createHash("sha256").update(archive.layer).digest("hex")}`;
            tags.forEach((tag, entry) => {
                const config = archive.config(entry);
                assert.strictEqual(config.os, "linux");
                assert.deepStrictEqual(config.rootfs, { type: "layers", diff_ids: [diffId] });
                assert.deepStrictEqual(config.config.Entrypoint, [`/app/${binary}`]);
                assert.strictEqual(config.config.Cmd, undefined);
                assert.strictEqual(config.config.User, `${expected.user}:${expected.user}`);
                assert.deepStrictEqual(config.config.Env, [`APP_VERSION=${tag}`, `PORT=${expected.port}`]);
                assert.deepStrictEqual(config.config.ExposedPorts, { [`${expected.port}/tcp`]: {} });
            });
            const entries = await layerEntries(archive.layer, path.join(tmp, app));
            const files = entries.filter(entry => entry.type === "File");
            assert.ok(
                entries.every(entry => entry.uid === 0 && (entry.type === "File" || entry.type === "Directory")),
                "root-owned files and directories only",
            );
            assert.deepStrictEqual(
                files.filter(entry => !entry.path.startsWith("app/site/")).map(entry => [entry.path, entry.mode.toString(8)]),
                [
                    [`app/${binary}`, "755"],
                    ["etc/passwd", "644"],
                    ["etc/group", "644"],
                ],
            );
            assert.ok(!entries.some(entry => /^(bin|usr)\//.test(entry.path)), "no shell, no tools");
            const layerDir = path.join(tmp, app, "rootfs");
            fs.mkdirSync(layerDir);
            await tar.x({ file: path.join(tmp, app, "layer.tar"), cwd: layerDir });
            assert.ok(fs.readFileSync(path.join(layerDir, "app", binary)).equals(fs.readFileSync(apps.bin[binary])), "the built binary, unchanged");
            assert.match(fs.readFileSync(path.join(layerDir, "etc", "passwd"), "utf8"), new RegExp(`^app:x:${expected.user}:${expected.user}:`, "m"));
        });
    }

    it("the smoke image: the local stack's smokeImage, the smoke Job's user, busybox (static) and curl's stand-in on PATH, as links", async () => {
        const { root, config, archive } = await unpackImage(apps.images.smoke, path.join(tmp, "smoke"));
        assert.deepStrictEqual(
            archive.manifest.map(entry => entry.RepoTags),
            [[local.smokeImage]],
        );
        assert.strictEqual(config.config.User, "65534:65534", "runAsUser of the smoke Job (components/smokeChecks.ts)");
        assert.deepStrictEqual(config.config.Env, ["APP_VERSION=v1", "PATH=/bin"]);
        const entries = await layerEntries(archive.layer, path.join(tmp, "smoke"));
        assert.ok(
            entries.every(entry => entry.uid === 0),
            "root-owned",
        );
        const links = Object.fromEntries(
            entries.filter(entry => entry.type === "SymbolicLink").map(entry => [entry.path, fs.readlinkSync(path.join(root, entry.path))]),
        );
        assert.deepStrictEqual(links, {
            ...Object.fromEntries(
                ["sh", "tr", "grep", "sort", "awk", "sleep", "printf", "cat", "echo", "env", "ls"].map(applet => [`bin/${applet}`, "busybox"]),
            ),
            "bin/curl": "../app/curl",
        });
        assert.deepStrictEqual(
            entries.filter(entry => entry.type === "File").map(entry => [entry.path, entry.mode.toString(8)]),
            [
                ["app/curl", "755"],
                ["etc/passwd", "644"],
                ["etc/group", "644"],
                ["bin/busybox", "755"],
            ],
        );
        assert.ok(fs.readFileSync(path.join(root, "app", "curl")).equals(fs.readFileSync(apps.bin.curl)), "the built stand-in, unchanged");
        // Static: no loader, no libc in the image.
        assert.notStrictEqual(spawnSync("ldd", [path.join(root, "bin", "busybox")]).status, 0);
        const sh = spawnSync(path.join(root, "bin", "sh"), ["-c", "echo a,b | tr , '\\n' | sort -r | awk '{ printf \"%s.\", $0 }'; curl --version"], {
            env: { PATH: path.join(root, "bin") },
            encoding: "utf8",
        });
        assert.strictEqual(sh.stdout, "b.a.");
        assert.match(sh.stderr, /^curl: option --version: is unknown \(this curl is physioflow's stand-in; it supports /);
    });

    it("scripts/apps.sh path on an empty cache, and an unknown command: exit 1 with one line naming the step", () => {
        const script = path.join(__dirname, "..", "..", "scripts", "apps.sh");
        const env = { ...process.env, PHYSIOFLOW_CACHE: path.join(tmp, "empty-cache") };
        const missing = spawnSync("bash", [script, "path"], { env, encoding: "utf8" });
        assert.strictEqual(missing.status, 1);
        assert.match(missing.stderr, /^apps\.sh: error: step "path" failed: the stand-in apps are not built \(.*\/bin\/api\); run npm run setup[^\n]*\n$/);
        const unknown = spawnSync("bash", [script, "serve"], { env, encoding: "utf8" });
        assert.strictEqual(unknown.status, 1);
        assert.strictEqual(unknown.stderr, 'apps.sh: error: step "arguments" failed: usage: bash scripts/apps.sh build|path\n');
    });

    it("physioflow-web's own files, served by its own binary, carry the local stack's NEXT_PUBLIC_* values", async () => {
        const archive = await readArchive(apps.images.webLocal, path.join(tmp, "web-served"));
        const rootfs = path.join(tmp, "web-served", "rootfs");
        fs.mkdirSync(rootfs);
        fs.writeFileSync(path.join(tmp, "web-served", "layer.tar"), archive.layer);
        await tar.x({ file: path.join(tmp, "web-served", "layer.tar"), cwd: rootfs });
        web = await startStandIn(path.join(rootfs, "app", "web"), { STATIC_DIR: path.join(rootfs, "app", "site") });
        const { chunks } = await pageAndChunks(web.url);
        const [chunk] = Object.values(chunks);
        const baked = JSON.parse(/\.env = (\{.*\});/.exec(chunk)![1]) as Record<string, string>;
        const program = Object.fromEntries(Object.entries(webEnvironment(parseStackConfig(local), 3000)).filter(([key]) => key.startsWith("NEXT_PUBLIC_")));
        assert.deepStrictEqual(baked, program);
        assert.deepStrictEqual(
            archive.config(0).config.Labels,
            Object.fromEntries(Object.entries(program).map(([key, value]) => [`physioflow.build-arg.${key}`, value])),
        );
    });
});
