/**
 * A TCP forwarder on loopback that behaves like a Service under kube-proxy for the load generator's
 * tests: each new connection goes to the backend in force when it is accepted, and stays pinned to
 * it (as conntrack keeps an established connection on its pod) after `switchTo` moves new ones.
 * A close or reset on one side is passed to the other as it came.
 */
import * as net from "net";
import { AddressInfo } from "net";

export interface SwitchingForwarder {
    /** http://127.0.0.1:PORT */
    url: string;
    /** New connections go to `port` from now on; open ones stay where they are. */
    switchTo(port: number): void;
    /** Connections accepted so far, per backend port. */
    accepted: Map<number, number>;
    close(): Promise<void>;
}

export async function startForwarder(backendPort: number): Promise<SwitchingForwarder> {
    let backend = backendPort;
    const accepted = new Map<number, number>();
    const open = new Set<net.Socket>();
    const server = net.createServer(client => {
        const port = backend;
        accepted.set(port, (accepted.get(port) ?? 0) + 1);
        const upstream = net.connect(port, "127.0.0.1");
        open.add(client).add(upstream);
        const pair = (from: net.Socket, to: net.Socket) => {
            from.on("data", chunk => to.write(chunk));
            from.on("end", () => to.end());
            // A reset (or refusal) on one side is a reset on the other, not a quiet close.
            from.on("error", () => to.resetAndDestroy());
            from.on("close", () => {
                open.delete(from);
                if (!to.destroyed) to.destroySoon();
            });
        };
        pair(client, upstream);
        pair(upstream, client);
    });
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        switchTo: port => {
            backend = port;
        },
        accepted,
        close: async () => {
            open.forEach(socket => socket.destroy());
            await new Promise(resolve => server.close(resolve));
        },
    };
}
