import { expect } from "chai";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RpcClient, RpcTransportError } from "../../../src/client/rpc-client.js";

/** A loopback HTTP server that cuts the connection of the first `cuts` requests, then answers each with `result: n`. */
async function server(cuts: number): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const srv: Server = createServer((req, res) => {
    n++;
    if (n <= cuts) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: n }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const { port } = srv.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, requests: () => n, close: () => new Promise((r) => srv.close(() => r())) };
}

describe("client: RpcClient transport", () => {
  it("a request whose connection is cut under it is sent once more, and the answer returned", async () => {
    const s = await server(1);
    try {
      expect(await new RpcClient(s.url).call("node_status")).to.equal(2);
      expect(s.requests()).to.equal(2);
    } finally {
      await s.close();
    }
  });

  it("a second cut is reported as a transport error, after two sends and no more", async () => {
    const s = await server(5);
    try {
      let err: unknown;
      await new RpcClient(s.url).call("node_status").catch((e) => (err = e));
      expect(err).to.be.instanceOf(RpcTransportError);
      expect((err as Error).message).to.match(/cannot reach node at .* \((UND_ERR_SOCKET|ECONNRESET|EPIPE)\)/);
      expect(s.requests()).to.equal(2);
    } finally {
      await s.close();
    }
  });

  it("a node that refuses connections is reported at once, not retried", async () => {
    const s = await server(0);
    const url = s.url;
    await s.close();
    let err: unknown;
    await new RpcClient(url).call("node_status").catch((e) => (err = e));
    expect(err).to.be.instanceOf(RpcTransportError);
    expect((err as Error).message).to.contain("ECONNREFUSED");
  });
});
