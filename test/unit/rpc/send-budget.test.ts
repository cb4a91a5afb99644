/**
 * The node-wide bound on bytes held for slow clients: one budget per RPC
 * app, shared by its HTTP route and WebSocket endpoint.
 */
import { expect } from "chai";
import Fastify from "fastify";
import { SendBudget, sendBudgetOf } from "../../../src/rpc/send-budget.js";

describe("rpc/send-budget", () => {
  it("fits bytes up to the max, counts what is taken and given back", () => {
    const b = new SendBudget(1_000);
    expect(b.bytes).to.equal(0);
    expect(b.fits(1_000)).to.equal(true);
    expect(b.fits(1_001)).to.equal(false);
    b.add(600);
    expect(b.bytes).to.equal(600);
    expect(b.fits(400)).to.equal(true);
    expect(b.fits(401)).to.equal(false);
    b.add(-600);
    expect(b.bytes).to.equal(0);
    expect(b.fits(1_000)).to.equal(true);
  });

  it("one budget per app: the second caller shares the first one's (and its max), another app has its own", async () => {
    const app = Fastify();
    const other = Fastify();
    try {
      const http = sendBudgetOf(app, 500);
      const ws = sendBudgetOf(app, 9_999);
      expect(ws).to.equal(http);
      expect(ws.max).to.equal(500);
      http.add(400);
      expect(ws.fits(200)).to.equal(false, "bytes held for HTTP count against the WebSocket side");
      const own = sendBudgetOf(other, 500);
      expect(own).to.not.equal(http);
      expect(own.fits(500)).to.equal(true);
    } finally {
      await app.close();
      await other.close();
    }
  });
});
