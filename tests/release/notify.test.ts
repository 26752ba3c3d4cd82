import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { notify } from "../../release/notify";

describe("team notifications (a loopback webhook)", () => {
    const message = { event: "switch" as const, namespace: "physioflow-prod", from: "blue", to: "green", tag: "v1.3.0", text: "switched" };

    it("posts the message as JSON", async () => {
        let received: { method?: string; type?: string; body: string } = { body: "" };
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", chunk => {
                body += chunk;
            });
            req.on("end", () => {
                received = { method: req.method, type: req.headers["content-type"], body };
                res.writeHead(200).end();
            });
        });
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        try {
            assert.strictEqual(await notify(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, message), undefined);
            assert.deepStrictEqual(received, { method: "POST", type: "application/json", body: JSON.stringify(message) });
        } finally {
            server.close();
        }
    });

    it("reports, without throwing, a webhook that refuses or is not there; nothing without a URL", async () => {
        const server = http.createServer((_req, res) => res.writeHead(500).end());
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        try {
            assert.strictEqual(await notify(url, message), `notification not delivered: ${url} answered 500`);
        } finally {
            await new Promise(resolve => server.close(resolve));
        }
        assert.match((await notify(url, message))!, /^notification not delivered: /);
        assert.strictEqual(await notify(undefined, message), undefined);
    });
});
