// @ts-check
/**
 * The one free-port picker of what starts local processes (PostgreSQL, the S3 server, Prometheus,
 * the control plane, the engine check). Plain JavaScript, so the bash scripts run it without ts-node:
 *
 *   node devenv/freePorts.js N    prints N distinct free loopback ports, separated by spaces
 *
 * TypeScript imports it from devenv/freePorts (types in freePorts.d.ts).
 */
"use strict";
const net = require("net");

/**
 * `count` distinct loopback ports nothing listens on right now: each is held open until all are
 * picked, so the system cannot hand out the same one twice; all are let go before this returns.
 * @param {number} count
 * @returns {Promise<number[]>}
 */
async function freeLoopbackPorts(count) {
    /** @type {net.Server[]} */
    const servers = [];
    /** @type {number[]} */
    const ports = [];
    try {
        while (ports.length < count) {
            const server = net.createServer();
            server.unref();
            await new Promise((resolve, reject) => {
                server.once("error", reject);
                server.listen(0, "127.0.0.1", () => resolve(undefined));
            });
            servers.push(server);
            ports.push(/** @type {net.AddressInfo} */ (server.address()).port);
        }
    } finally {
        await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))));
    }
    return ports;
}

/**
 * One loopback port nothing listens on right now.
 * @returns {Promise<number>}
 */
async function freeLoopbackPort() {
    return (await freeLoopbackPorts(1))[0];
}

/**
 * True when nothing listens on 127.0.0.1:port.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function loopbackPortIsFree(port) {
    return new Promise(resolve => {
        const server = net.createServer();
        server.unref();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

module.exports = { freeLoopbackPorts, freeLoopbackPort, loopbackPortIsFree };

if (require.main === module) {
    const count = Number(process.argv[2] ?? "1");
    if (!Number.isInteger(count) || count < 1 || count > 100) {
        process.stderr.write(`usage: node devenv/freePorts.js N (N from 1 to 100; got "${process.argv[2]}")\n`);
        process.exit(2);
    }
    freeLoopbackPorts(count).then(
        ports => console.log(ports.join(" ")),
        error => {
            process.stderr.write(`freePorts: ${error.message}\n`);
            process.exit(1);
        },
    );
}
