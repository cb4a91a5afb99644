/**
 * A deterministic simulated network of Tendermint machines, for tests.
 *
 * The harness is the driver the machines expect: it signs what they ask for
 * (through the double-sign guard for honest nodes), delivers messages after a
 * random delay, buffers messages of the next height, arms timers as events,
 * checks every commit, and starts the next height. Everything runs on a
 * simulated clock from one seeded random source, so a run is a pure function
 * of its configuration: a failing seed replays exactly.
 *
 * The network model is partial synchrony: before `gstMs` messages may be
 * dropped; partitions hold messages between groups until they heal. Like
 * gossip, every `gossipMs` each honest node sends a peer at its height the
 * messages of that height it has received (its own included) and the peer
 * lacks, and sends a node still deciding a height it has decided the
 * proposal and precommits that decided it (block sync in miniature). Relaying
 * what others sent matters: the algorithm's liveness assumes that a message
 * one correct node received reaches every correct node, and a proof-of-lock
 * can rest on a faulty validator's vote that only some nodes heard.
 *
 * Faulty validators: "silent" sends nothing; "equivocate" sends two
 * different proposals to two halves of the network and two different votes
 * (the one its machine asked for and another) to everyone, in a random order
 * per peer; "invalid" proposes blocks no honest node accepts. Late joiners
 * (`downUntil`) are honest nodes that start at height 1 at the given time.
 */
import { bytesEqual, toHex, utf8 } from "../../src/crypto/bytes.js";
import { sha256 } from "../../src/crypto/hash.js";
import { type DuplicateVoteEvidence, verifyEvidence } from "../../src/consensus/evidence.js";
import {
  type ConsensusMessage,
  NIL,
  type Proposal,
  encodeConsensusMessage,
  isNil,
  signProposal,
  signVote,
  verifyProposal,
  verifyVote,
} from "../../src/consensus/messages.js";
import type { TendermintOptions } from "../../src/consensus/options.js";
import { ProposerPriorities } from "../../src/consensus/proposer.js";
import { ValidatorSigner } from "../../src/consensus/signer.js";
import { type TendermintAction, type TendermintInput, TendermintMachine } from "../../src/consensus/tendermint.js";
import type { ValidatorSet } from "../../src/chain/validator-set.js";
import { VoteStep, verifyCommit } from "../../src/chain/vote.js";
import { CHAIN_ID, fixedKey } from "./fixtures.js";
import { validatorFill, validatorSet } from "./consensus.js";

export type Behaviour = "honest" | "silent" | "equivocate" | "invalid";

export interface SimConfig {
  powers: number[];
  seed: number;
  /** Honest nodes stop after committing this height. */
  heights: number;
  /** Message delay bounds in ms (default 10..200). */
  delay?: { min: number; max: number };
  /** Chance of losing a message before gstMs (default 0). */
  dropRate?: number;
  gstMs?: number;
  /** Gossip interval in ms (default 1000). */
  gossipMs?: number;
  /** Wait between a commit and the start of the next height (default 10 ms). */
  commitDelayMs?: number;
  byzantine?: Record<number, Exclude<Behaviour, "honest">>;
  /** Honest nodes that are down (receive nothing, send nothing) until this time, then start at height 1. */
  downUntil?: Record<number, number>;
  /** Messages between different groups sent in [from, until) are held until `until`. */
  partitions?: Array<{ from: number; until: number; groups: number[][] }>;
  options?: Partial<TendermintOptions>;
}

interface SimNode {
  index: number;
  behaviour: Behaviour;
  signer: ValidatorSigner;
  machine: TendermintMachine;
  up: boolean;
  height: number;
  buffer: ConsensusMessage[];
  /** Messages of the current height this node accepted, by signature: what gossip relays. */
  seen: Map<string, ConsensusMessage>;
  commits: Map<number, string>;
  commitRounds: Map<number, number>;
  decided: Map<number, ConsensusMessage[]>;
  proposalsSeen: Proposal[];
  evidence: DuplicateVoteEvidence[];
}

type SimEvent =
  | { kind: "deliver"; to: number; msg: ConsensusMessage }
  | { kind: "input"; to: number; input: TendermintInput }
  | { kind: "start"; to: number; height: number }
  | { kind: "wake"; to: number }
  | { kind: "gossip" };

interface Queued {
  at: number;
  seq: number;
  ev: SimEvent;
}

/** A binary min-heap on (at, seq): equal times run in the order they were scheduled. */
class EventQueue {
  private readonly heap: Queued[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, ev: SimEvent): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Queued | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(a: Queued, b: Queued): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/** mulberry32: a small seeded generator, enough for schedules. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function messageKey(m: ConsensusMessage): string {
  return `${m.kind}:${toHex(m.kind === "proposal" ? m.proposal.sig : m.vote.sig)}`;
}

function heightOf(m: ConsensusMessage): number {
  return m.kind === "proposal" ? m.proposal.height : m.vote.height;
}

export class TendermintSim {
  readonly set: ValidatorSet;
  readonly nodes: SimNode[];
  /** Block hashes an honest node would accept: the validity predicate valid(v). */
  readonly validBlocks = new Set<string>();
  now = 0;
  events = 0;
  /** Messages delivered to nodes (after drops). */
  delivered = 0;

  private readonly queue = new EventQueue();
  private readonly random: () => number;
  private readonly priorities: ProposerPriorities[] = [];
  private readonly proposerCache = new Map<string, Uint8Array>();
  private readonly verified = new Set<string>();
  private blockCounter = 0;

  constructor(readonly cfg: SimConfig) {
    this.random = rng(cfg.seed);
    this.set = validatorSet(cfg.powers);
    this.nodes = cfg.powers.map((_, i) => {
      const behaviour: Behaviour = cfg.byzantine?.[i] ?? "honest";
      const signer = new ValidatorSigner(fixedKey(validatorFill(i)).secretKey, undefined);
      return {
        index: i,
        behaviour,
        signer,
        machine: new TendermintMachine({ self: signer.address, options: cfg.options }),
        up: behaviour !== "silent" && cfg.downUntil?.[i] === undefined,
        height: 0,
        buffer: [],
        seen: new Map(),
        commits: new Map(),
        commitRounds: new Map(),
        decided: new Map(),
        proposalsSeen: [],
        evidence: [],
      };
    });
    for (const n of this.nodes) {
      if (n.up) this.queue.push(0, { kind: "start", to: n.index, height: 1 });
      const wake = cfg.downUntil?.[n.index];
      if (wake !== undefined && Number.isFinite(wake)) this.queue.push(wake, { kind: "wake", to: n.index });
    }
    this.queue.push(this.cfg.gossipMs ?? 1000, { kind: "gossip" });
  }

  honest(): SimNode[] {
    return this.nodes.filter((n) => n.behaviour === "honest");
  }

  /** Run events until `done()` holds or simulated time passes `untilMs`. Bounded by maxEvents too. */
  run(untilMs: number, done: () => boolean = () => false, maxEvents = 2_000_000): void {
    for (let i = 0; i < maxEvents && !done(); i++) {
      const next = this.queue.pop();
      if (!next) return;
      if (next.at > untilMs) {
        this.queue.push(next.at, next.ev);
        this.now = untilMs;
        return;
      }
      this.now = next.at;
      this.events++;
      this.dispatch(next.ev);
    }
  }

  /** True once every honest node has committed `height`. */
  allHonestCommitted(height = this.cfg.heights): boolean {
    return this.honest().every((n) => n.commits.has(height));
  }

  /**
   * Safety and validity over everything committed: no two honest nodes
   * committed different blocks at one height, and every committed block was
   * one an honest node would accept. Returns the first violation.
   */
  safetyViolation(): string | null {
    const byHeight = new Map<number, string>();
    for (const n of this.honest()) {
      for (const [h, hash] of n.commits) {
        const other = byHeight.get(h);
        if (other !== undefined && other !== hash) return `agreement: height ${h} committed as ${other.slice(0, 8)} and ${hash.slice(0, 8)}`;
        byHeight.set(h, hash);
        if (!this.validBlocks.has(hash)) return `validity: node ${n.index} committed an invalid block at height ${h}`;
      }
    }
    return null;
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case "deliver":
        this.deliver(this.nodes[ev.to]!, ev.msg);
        break;
      case "input": {
        const n = this.nodes[ev.to]!;
        if (n.up) this.feed(n, ev.input);
        break;
      }
      case "start":
        this.start(this.nodes[ev.to]!, ev.height);
        break;
      case "wake": {
        const n = this.nodes[ev.to]!;
        n.up = true;
        this.start(n, 1);
        break;
      }
      case "gossip":
        this.gossip();
        this.queue.push(this.now + (this.cfg.gossipMs ?? 1000), { kind: "gossip" });
        break;
    }
  }

  private proposerOf(height: number): (round: number) => Uint8Array {
    while (this.priorities.length < height) {
      const last = this.priorities[this.priorities.length - 1];
      this.priorities.push(last ? last.advance(1) : ProposerPriorities.initial(this.set));
    }
    const p = this.priorities[height - 1]!;
    return (round) => {
      const key = `${height}:${round}`;
      let a = this.proposerCache.get(key);
      if (!a) {
        a = p.advance(round).proposer();
        this.proposerCache.set(key, a);
      }
      return a;
    };
  }

  private start(n: SimNode, height: number): void {
    if (!n.up || height <= n.height) return;
    n.height = height;
    n.seen = new Map();
    this.feed(n, { kind: "start", height, validators: this.set, proposerOf: this.proposerOf(height) });
    const buffered = n.buffer;
    n.buffer = [];
    for (const m of buffered) this.deliver(n, m);
  }

  private deliver(n: SimNode, msg: ConsensusMessage): void {
    if (!n.up) return;
    const h = heightOf(msg);
    if (h > n.height) {
      n.buffer.push(msg);
      return;
    }
    if (h < n.height) return;
    if (!this.signatureOk(msg)) return;
    this.delivered++;
    this.handleMessage(n, msg);
  }

  private handleMessage(n: SimNode, msg: ConsensusMessage): void {
    n.seen.set(messageKey(msg), msg);
    if (msg.kind === "proposal") {
      if (!n.proposalsSeen.some((p) => bytesEqual(p.sig, msg.proposal.sig))) n.proposalsSeen.push(msg.proposal);
      this.feed(n, { kind: "proposal", proposal: msg.proposal, valid: this.validBlocks.has(toHex(msg.proposal.blockHash)) });
    } else {
      this.feed(n, { kind: "vote", vote: msg.vote });
    }
  }

  private signatureOk(msg: ConsensusMessage): boolean {
    const key = toHex(encodeConsensusMessage(msg));
    if (this.verified.has(key)) return true;
    const ok = msg.kind === "proposal" ? verifyProposal(CHAIN_ID, msg.proposal, this.set) : verifyVote(CHAIN_ID, msg.vote, this.set);
    if (ok) this.verified.add(key);
    return ok;
  }

  private feed(n: SimNode, input: TendermintInput): void {
    for (const a of n.machine.handle(input)) this.act(n, a);
  }

  private act(n: SimNode, a: TendermintAction): void {
    switch (a.kind) {
      case "propose":
        this.propose(n, a);
        break;
      case "vote":
        this.vote(n, a);
        break;
      case "scheduleTimeout":
        this.queue.push(this.now + a.ms, { kind: "input", to: n.index, input: { kind: "timeout", height: a.height, round: a.round, step: a.step } });
        break;
      case "commit": {
        if (n.commits.has(a.height)) throw new Error(`node ${n.index} committed height ${a.height} twice`);
        if (!verifyCommit(CHAIN_ID, a.commit, this.set)) throw new Error(`node ${n.index} emitted a commit that does not verify at height ${a.height}`);
        if (a.commit.height !== a.height || toHex(a.commit.blockHash) !== toHex(a.blockHash)) throw new Error("commit action and its commit disagree");
        n.commits.set(a.height, toHex(a.blockHash));
        n.commitRounds.set(a.height, a.round);
        const proposal = n.proposalsSeen.find((p) => p.height === a.height && p.round === a.round && toHex(p.blockHash) === toHex(a.blockHash));
        if (!proposal) throw new Error(`node ${n.index} decided height ${a.height} without having seen its proposal`);
        const precommits: ConsensusMessage[] = a.commit.sigs.map((s) => ({
          kind: "vote",
          vote: { type: VoteStep.Precommit, height: a.height, round: a.round, blockHash: a.blockHash, validator: s.validator, sig: s.sig },
        }));
        n.decided.set(a.height, [{ kind: "proposal", proposal }, ...precommits]);
        n.proposalsSeen = n.proposalsSeen.filter((p) => p.height > a.height);
        if (a.height < this.cfg.heights) this.queue.push(this.now + (this.cfg.commitDelayMs ?? 10), { kind: "start", to: n.index, height: a.height + 1 });
        break;
      }
      case "evidence":
        verifyEvidence(CHAIN_ID, a.evidence, this.set);
        n.evidence.push(a.evidence);
        break;
    }
  }

  private newBlock(n: SimNode, height: number, round: number, valid: boolean): Uint8Array {
    const hash = sha256(utf8(`${this.cfg.seed}:${height}:${round}:${n.index}:${this.blockCounter++}`));
    if (valid) this.validBlocks.add(toHex(hash));
    return hash;
  }

  private propose(n: SimNode, a: Extract<TendermintAction, { kind: "propose" }>): void {
    const unsigned = (blockHash: Uint8Array) => ({ height: a.height, round: a.round, polRound: a.validRound, blockHash, proposer: n.signer.address });
    if (n.behaviour === "equivocate") {
      // Two valid blocks, each signed without the guard, to two halves of the network.
      const p1 = signProposal(CHAIN_ID, unsigned(a.validValue ?? this.newBlock(n, a.height, a.round, true)), this.freshSigner(n)).proposal;
      const p2 = signProposal(CHAIN_ID, unsigned(this.newBlock(n, a.height, a.round, true)), this.freshSigner(n)).proposal;
      for (const peer of this.nodes) {
        if (peer.index !== n.index) this.send(n, peer, { kind: "proposal", proposal: peer.index % 2 === 0 ? p1 : p2 });
      }
      this.deliverSelf(n, { kind: "proposal", proposal: p1 });
      return;
    }
    const hash = a.validValue ?? this.newBlock(n, a.height, a.round, n.behaviour !== "invalid");
    const { proposal } = signProposal(CHAIN_ID, unsigned(hash), n.signer);
    this.publish(n, { kind: "proposal", proposal });
  }

  private vote(n: SimNode, a: Extract<TendermintAction, { kind: "vote" }>): void {
    const unsigned = (blockHash: Uint8Array) => ({ type: a.type, height: a.height, round: a.round, blockHash, validator: n.signer.address });
    if (n.behaviour === "equivocate") {
      const other = isNil(a.blockHash) ? this.someValidBlock(n, a.height) : NIL;
      const v1 = signVote(CHAIN_ID, unsigned(a.blockHash), this.freshSigner(n)).vote;
      const v2 = signVote(CHAIN_ID, unsigned(other), this.freshSigner(n)).vote;
      for (const peer of this.nodes) {
        if (peer.index === n.index) continue;
        const [first, second] = this.random() < 0.5 ? [v1, v2] : [v2, v1];
        this.send(n, peer, { kind: "vote", vote: first });
        this.send(n, peer, { kind: "vote", vote: second });
      }
      this.deliverSelf(n, { kind: "vote", vote: v1 });
      return;
    }
    // Honest: through the guard. A DoubleSignError here means the machine asked for a conflicting vote.
    const { vote } = signVote(CHAIN_ID, unsigned(a.blockHash), n.signer);
    this.publish(n, { kind: "vote", vote });
  }

  private someValidBlock(n: SimNode, height: number): Uint8Array {
    const seen = n.proposalsSeen.find((p) => p.height === height);
    return seen ? seen.blockHash : this.newBlock(n, height, 0, true);
  }

  private freshSigner(n: SimNode): ValidatorSigner {
    return new ValidatorSigner(fixedKey(validatorFill(n.index)).secretKey, undefined);
  }

  /** Own message: send it to every peer and feed it back. */
  private publish(n: SimNode, msg: ConsensusMessage): void {
    for (const peer of this.nodes) if (peer.index !== n.index) this.send(n, peer, msg);
    this.deliverSelf(n, msg);
  }

  private deliverSelf(n: SimNode, msg: ConsensusMessage): void {
    this.handleMessage(n, msg);
  }

  private send(from: SimNode, to: SimNode, msg: ConsensusMessage): void {
    if (from.behaviour === "silent" || !from.up) return;
    const gst = this.cfg.gstMs ?? 0;
    if (this.now < gst && this.random() < (this.cfg.dropRate ?? 0)) return;
    const { min, max } = this.cfg.delay ?? { min: 10, max: 200 };
    let at = this.now + min + Math.floor(this.random() * (max - min + 1));
    for (const p of this.cfg.partitions ?? []) {
      if (this.now >= p.from && this.now < p.until) {
        const ga = p.groups.findIndex((g) => g.includes(from.index));
        const gb = p.groups.findIndex((g) => g.includes(to.index));
        if (ga !== gb) at = Math.max(at, p.until + (at - this.now));
      }
    }
    this.queue.push(at, { kind: "deliver", to: to.index, msg });
  }

  private gossip(): void {
    for (const n of this.nodes) {
      if (!n.up || n.behaviour !== "honest") continue;
      for (const peer of this.nodes) {
        if (peer.index === n.index || !peer.up) continue;
        // A peer still deciding a height we decided gets the proof; one at our
        // height gets what we have and it lacks (peers tell each other what
        // they have; the simulation looks instead).
        const proof = peer.commits.has(peer.height) ? undefined : n.decided.get(peer.height);
        if (proof) for (const m of proof) this.send(n, peer, m);
        else if (peer.height === n.height) for (const [key, m] of n.seen) if (!peer.seen.has(key)) this.send(n, peer, m);
      }
    }
  }
}

/** A short description of where each node is, for assertion messages. */
export function describeSim(sim: TendermintSim): string {
  return sim.nodes
    .map((n) => `#${n.index}(${n.behaviour}) h=${n.height} r=${n.machine.roundState.round} ${n.machine.roundState.step} commits=${n.commits.size}`)
    .join("; ");
}
