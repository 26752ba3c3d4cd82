import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import { freeLoopbackPort, freeLoopbackPorts, loopbackPortIsFree } from "../../devenv/freePorts";

const script = path.resolve(__dirname, "..", "..", "devenv", "freePorts.js");

describe("devenv/freePorts: the one free-port picker", () => {
    it("gives distinct loopback ports nothing listens on", async () => {
        const ports = await freeLoopbackPorts(8);
        assert.strictEqual(new Set(ports).size, 8, ports.join(" "));
        for (const port of ports) assert.ok(await loopbackPortIsFree(port), `${port} is free`);
        assert.ok(await loopbackPortIsFree(await freeLoopbackPort()));
    });

    it("a port something listens on is not free", async () => {
        const server = net.createServer();
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        try {
            assert.strictEqual(await loopbackPortIsFree((server.address() as net.AddressInfo).port), false);
        } finally {
            server.close();
        }
    });

    it("node devenv/freePorts.js N prints N distinct ports on one line, for the bash scripts; a bad N is refused", () => {
        const printed = execFileSync("node", [script, "6"], { encoding: "utf8" });
        assert.match(printed, /^\d+( \d+){5}\n$/);
        assert.strictEqual(new Set(printed.trim().split(" ")).size, 6);
        assert.match(execFileSync("node", [script], { encoding: "utf8" }), /^\d+\n$/);
        const bad = spawnSync("node", [script, "0"], { encoding: "utf8" });
        assert.strictEqual(bad.status, 2);
        assert.strictEqual(bad.stderr, 'usage: node devenv/freePorts.js N (N from 1 to 100; got "0")\n');
    });
});
