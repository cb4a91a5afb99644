/**
 * The node-wide bound on bytes held for clients that have not taken them
 * yet (rpc option maxSendBytes): HTTP answers from the moment they are built
 * until written out, and what WebSocket connections have queued. One per
 * RPC app, shared by its HTTP route and its WebSocket endpoint, so many slow
 * clients together cannot hold more than it whatever each one's own bound.
 */
import type { FastifyInstance } from "fastify";

export class SendBudget {
  private used = 0;
  constructor(readonly max: number) {}

  get bytes(): number {
    return this.used;
  }

  fits(bytes: number): boolean {
    return this.used + bytes <= this.max;
  }

  /** Count bytes taken (positive) or given back (negative). */
  add(delta: number): void {
    this.used += delta;
  }
}

const budgets = new WeakMap<FastifyInstance, SendBudget>();

/** The budget of an app built by buildServer; a fresh one (of `max` bytes) for any other app. */
export function sendBudgetOf(app: FastifyInstance, max: number): SendBudget {
  let b = budgets.get(app);
  if (b === undefined) budgets.set(app, (b = new SendBudget(max)));
  return b;
}
