/**
 * A real S3-compatible server on this machine: SeaweedFS (Apache-2.0; not MinIO,
 * which is AGPL) started on free loopback ports with one access key, stopped
 * and deleted afterwards. It supports PutBucketLifecycleConfiguration and
 * GetBucketLifecycleConfiguration for expiration-in-days rules. The tests start
 * one per run (tests/support/s3.ts); the main job and the benches may start their own.
 *
 * The binary is built by scripts/s3-server.sh (run by npm run setup);
 * when it is missing starting fails saying so, it never skips.
 */
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freeLoopbackPorts } from "./freePorts";

/** A running S3 server. */
export interface S3Server {
    /** "http://127.0.0.1:<port>". */
    endpoint: string;
    /** "us-east-1". */
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (add S3_BUCKET per use). */
    env: Record<string, string>;
    /** A client for inspecting what was stored; destroyed by the caller. */
    client(): S3Client;
    /** Stops the server and deletes its files. Safe to call twice. */
    stop(): Promise<void>;
}

const SERVER_SCRIPT = path.resolve(__dirname, "..", "scripts", "s3-server.sh");

// The pinned AWS SDK works on Node 20 but warns on stderr about future releases; keep the output readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Path of the SeaweedFS `weed` binary, or an error saying how to build it. */
export function findS3ServerBinary(): string {
    if (process.env.PHYSIOFLOW_S3_SERVER_BIN) {
        if (!fs.existsSync(process.env.PHYSIOFLOW_S3_SERVER_BIN)) {
            throw new Error(`PHYSIOFLOW_S3_SERVER_BIN=${process.env.PHYSIOFLOW_S3_SERVER_BIN} does not exist`);
        }
        return process.env.PHYSIOFLOW_S3_SERVER_BIN;
    }
    // The script knows the version and the cache root; `path` never builds.
    const found = spawnSync("bash", [SERVER_SCRIPT, "path"], { encoding: "utf8" });
    if (found.status === 0) {
        return found.stdout.trim();
    }
    throw new Error(
        `the S3 server is not built (${found.stderr.trim().split("\n").pop()}): run "bash scripts/s3-server.sh build" (needs Go; npm run setup does this), or set PHYSIOFLOW_S3_SERVER_BIN`,
    );
}

/** Starts a new server (tests share one: tests/support/s3.ts). */
export async function startS3Server(): Promise<S3Server> {
    // Free ports are picked, released, then bound by the server: with test files running in
    // parallel another process can take one in between. A server that fails to start is retried
    // on new ports.
    for (let attempt = 1; ; attempt++) {
        try {
            return await startS3ServerOnce();
        } catch (error) {
            if (attempt >= 3 || /is not built/.test((error as Error).message)) throw error;
        }
    }
}

async function startS3ServerOnce(): Promise<S3Server> {
    const binary = findS3ServerBinary();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "physioflow-s3-"));
    const dataDir = path.join(root, "data");
    fs.mkdirSync(dataDir);
    const accessKeyId = `test${crypto.randomBytes(6).toString("hex")}`;
    const secretAccessKey = crypto.randomBytes(18).toString("hex");
    const configFile = path.join(root, "s3.json");
    fs.writeFileSync(
        configFile,
        JSON.stringify({
            identities: [
                {
                    name: "physioflow-test",
                    credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
                    actions: ["Admin", "Read", "Write", "List", "Tagging"],
                },
            ],
        }),
    );
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freeLoopbackPorts(8);
    const args = [
        "server",
        `-dir=${dataDir}`,
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        `-master.port=${master}`,
        `-master.port.grpc=${masterGrpc}`,
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        `-volume.port=${volume}`,
        `-volume.port.grpc=${volumeGrpc}`,
        // 0: as many volumes as the disk allows; every bucket is a collection that grows its own volumes.
        "-volume.max=0",
        "-filer",
        `-filer.port=${filer}`,
        `-filer.port.grpc=${filerGrpc}`,
        `-filer.localSocket=${path.join(root, "filer.sock")}`,
        "-s3",
        `-s3.port=${s3}`,
        `-s3.port.grpc=${s3Grpc}`,
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        `-s3.config=${configFile}`,
        `-s3.localSocket=${path.join(root, "s3.sock")}`,
    ];
    const log = fs.openSync(path.join(root, "server.log"), "a");
    // Its per-port Unix sockets go to its own folder, not a /tmp shared with other servers.
    const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", log, log], cwd: root, env: { ...process.env, TMPDIR: root } });
    fs.closeSync(log);
    // Should this process be killed outright (no exit hook runs), a detached watchdog stops the server.
    spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null; rm -rf '${root}'`], {
        detached: true,
        stdio: "ignore",
    }).unref();
    let exited = false;
    child.on("exit", () => (exited = true));

    // SeaweedFS also opens a Unix socket per gRPC port in its temp dir (root, by TMPDIR; /tmp for a
    // build that ignores TMPDIR); remove them with the server.
    const sockets = Object.entries({ master: masterGrpc, volume: volumeGrpc, filer: filerGrpc, s3: s3Grpc }).flatMap(([kind, port]) =>
        [os.tmpdir(), root].map(dir => path.join(dir, `seaweedfs-${kind}-grpc-${port}.sock`)),
    );
    let stopped = false;
    const cleanup = () => {
        for (const socket of sockets) {
            fs.rmSync(socket, { force: true });
        }
        fs.rmSync(root, { recursive: true, force: true });
    };
    const stopSync = () => {
        if (stopped) {
            return;
        }
        stopped = true;
        if (!exited && child.pid) {
            try {
                process.kill(child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        cleanup();
    };
    process.once("exit", stopSync);

    const endpoint = `http://127.0.0.1:${s3}`;
    const region = "us-east-1";
    const client = () => new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try {
        await waitUntilReady(client, () => exited, path.join(root, "server.log"));
    } catch (error) {
        stopSync();
        throw error;
    }
    return {
        endpoint,
        region,
        accessKeyId,
        secretAccessKey,
        env: { S3_ENDPOINT: endpoint, S3_REGION: region, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey },
        client,
        stop: async () => {
            process.removeListener("exit", stopSync);
            if (!stopped && !exited && child.pid) {
                child.kill("SIGTERM");
                const deadline = Date.now() + 3000;
                while (!exited && Date.now() < deadline) {
                    await new Promise(resolve => setTimeout(resolve, 100));
                }
            }
            stopSync();
        },
    };
}

async function waitUntilReady(client: () => S3Client, hasExited: () => boolean, logFile: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    let lastError = "";
    while (Date.now() < deadline) {
        if (hasExited()) {
            break;
        }
        const probe = client();
        try {
            await probe.send(new ListBucketsCommand({}));
            return;
        } catch (error) {
            lastError = (error as Error).message;
        } finally {
            probe.destroy();
        }
        await new Promise(resolve => setTimeout(resolve, 250));
    }
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "";
    throw new Error(`the S3 server did not become ready (${hasExited() ? "it exited" : "timeout"}; last error: ${lastError})\n${log}`);
}
