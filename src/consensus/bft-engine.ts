/**
 * The BFT engine: the one loop that owns the round state of a validator (or
 * of a full node that follows). It drives the pure TendermintMachine:
 *
 *  - inputs (peers' proposals and votes, checked and queued by `admit`,
 *    timer firings, and this node's own messages fed back) are handled one
 *    at a time, each appended to the WAL before the machine sees it;
 *  - actions are carried out: a proposal is a block built from the mempool
 *    and executed; votes and proposals are signed through the
 *    FilePrivValidator and written to the WAL with sync before they are
 *    broadcast (invariant 4); a decision is stored in one batch with its
 *    commit and the next height's proposer priorities, closed in the WAL
 *    with an end-of-height marker, and the next height starts after
 *    timeoutCommit;
 *  - on start the WAL of the height in progress is replayed through the
 *    machine, so the lock and the votes already given come back, and what
 *    was signed is answered from the WAL's signed records, never signed anew.
 *
 * When a peer has proven that the height this node works on is decided (a
 * block of that height with a commit that verifies against the height's
 * set: `provenPeersHeight`) and this node has not decided it within
 * catchUpAfterMs, it pauses consensus, fetches the missing blocks by block
 * sync (`catchUp`) and resumes at the store's head: at the next height when
 * sync moved the head, else at the height it was in, with its round state,
 * lock and pending timeouts as they were. A claim alone (a status message)
 * never pauses consensus: it only asks block sync for a proof
 * (`requestProof`).
 *
 * Validator sets come from the chain's state (governance, effective at H+2)
 * and are read asynchronously; the machine and the p2p checks need them
 * synchronously, so the sets of h-1, h and h+1 are fetched before height h
 * starts (h+1 is known: the store answers up to head + 2). A message of a
 * height whose set this node cannot know yet (beyond head + 2) is kept
 * unverified, within bounds, and neither relayed nor held against its
 * sender: it is checked when its height starts, against that height's set,
 * and only that check may cost the sender. The machine
 * signs only at heights whose set holds this node's key: a validator that
 * governance removed follows, one that it added starts signing. Proposer
 * priorities carry over a set change by ProposerPriorities.nextFor.
 *
 * Evidence: equivocation the machine detects goes to `onEvidence` (the
 * node's pool gossips it); a proposer includes the pool's evidence that
 * passes the block rule at its height (buildNextBlock).
 */
import type { Logger } from "../log/logger.js";
import { EventEmitter } from "node:events";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { type Block, type Commit, type EncodedEvidence, decodeBlock, encodeBlock, headerHash } from "../chain/block.js";
import type { SignatureVerifier } from "../chain/execute.js";
import type { ConsensusParams } from "../chain/genesis.js";
import type { Mempool, Rejection } from "../chain/mempool.js";
import type { ChainStore } from "../chain/store.js";
import { CodedError } from "../errors.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { type BlockExecDeps, type ExecutedBlock, BlockValidationError, buildNextBlock, validateBlock, verifyCommittedBlock } from "./block-exec.js";
import { commitDecidedBlock } from "./commit.js";
import { ConsensusStore } from "./consensus-store.js";
import type { CommittedBlockEvent } from "./engine.js";
import type { DuplicateVoteEvidence } from "./evidence.js";
import type { Proposal, Vote, VoteType } from "./messages.js";
import type { TendermintOptions } from "./options.js";
import type { FilePrivValidator } from "./privval.js";
import type { ProposerPriorities } from "./proposer.js";
import { type RoundStep, type TendermintAction, TendermintMachine } from "./tendermint.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { verifyCommit } from "../chain/vote.js";
import type { ConsensusWal } from "./wal.js";
import { type WalRecord, encodeWalRecord } from "./wal-records.js";
import { checkConsensusMessage } from "./bft-admission.js";
import { HeightSets } from "./height-sets.js";
import { type SignedHistory, emptySignedHistory, readHeightWal, voteKey } from "./bft-wal.js";

/** A consensus message as it travels between nodes: a proposal carries its whole block (one frame). */
export type WireConsensusMessage = { kind: "proposal"; proposal: Proposal; block: Uint8Array } | { kind: "vote"; vote: Vote };

export interface BftEngineOptions {
  /** Wait after a commit before starting the next height: time for late precommits and for txs to gather. */
  timeoutCommitMs: number;
  /** How far ahead of this node's clock a proposed block's time may be. */
  maxClockDriftMs: number;
  /** Peers committed this node's height and it has not decided within this long: catch up by block sync. */
  catchUpAfterMs: number;
  /** Largest tx bytes this node puts in a block it proposes (the whole block must fit in one p2p frame). */
  maxProposalTxBytes: number;
  /** Messages kept for heights this node has not reached yet. */
  maxBufferedMessages: number;
  tendermint: Partial<TendermintOptions>;
}

export const defaultBftEngineOptions: Readonly<Omit<BftEngineOptions, "tendermint">> = Object.freeze({
  timeoutCommitMs: 1000,
  maxClockDriftMs: 10_000,
  catchUpAfterMs: 2_000,
  maxProposalTxBytes: 3 * 1024 * 1024,
  maxBufferedMessages: 10_000,
});

export interface BftEngineDeps {
  chainId: string;
  store: ChainStore;
  mempool: Mempool;
  verifier: SignatureVerifier;
  params: ConsensusParams;
  /** The validator set that signs `height`, from the chain's state (1 to head + 2; throws beyond). */
  validatorSetAt(height: number): Promise<ValidatorSet>;
  /** This validator's signer; null on a full node, which follows without signing. */
  privval: FilePrivValidator | null;
  /** The consensus WAL; null on a full node (it signs nothing, so it has nothing to recover). */
  wal: ConsensusWal | null;
  /** Send a message to peers (except the one it came from). */
  broadcast(msg: WireConsensusMessage, except?: string): void;
  /** A peer sent something provably wrong (a bad signature, an invalid block). */
  reportPeer?(peerId: string, reason: string): void;
  /** Highest height a peer has announced (a claim, not a proof). */
  peersHeight?(): number | undefined;
  /** Highest height a connected peer has proven: it served that block with a commit that verified against the height's set. */
  provenPeersHeight?(): number | undefined;
  /** Ask block sync to have a peer that claims `height` prove it (fetch that block and check its commit); returns at once. */
  requestProof?(height: number): void;
  /**
   * Fetch blocks from peers (block sync) at least up to `target`, a proven
   * height, or as far as the peers can deliver; resolves when sync ends,
   * whatever it found (no block at all included).
   */
  catchUp?(target: number): Promise<void>;
  /** Evidence not yet committed (the node's pool); a proposal includes what passes the block rule. */
  pendingEvidence?(): EncodedEvidence[];
  /** The machine found equivocation: the node pools and gossips it. */
  onEvidence?(ev: DuplicateVoteEvidence): void;
  clock: () => number;
  log: Logger;
}

type Input =
  | { kind: "message"; msg: WireConsensusMessage; from: string | undefined; block?: Block; unverified?: true }
  | { kind: "timeout"; height: number; round: number; step: RoundStep }
  | { kind: "startHeight" }
  | { kind: "checkPeers" }
  | { kind: "catchUp"; target: number };

/** A scheduled timeout, kept so that a height paused for block sync resumes with the same timers. */
interface TimerSpec {
  height: number;
  round: number;
  step: RoundStep;
  ms: number;
}

/** Unverified proposals (each carries a whole block) kept for heights whose set is not known yet. */
const MAX_UNVERIFIED_PROPOSALS = 16;

export interface BftEngineEvents {
  block: [CommittedBlockEvent];
  txRejected: [{ hash: Uint8Array; why: Rejection }];
}

export class BftEngine extends EventEmitter<BftEngineEvents> {
  readonly opts: BftEngineOptions;
  private readonly machine: TendermintMachine;
  private readonly exec: BlockExecDeps;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly queue: Input[] = [];
  private wake: (() => void) | undefined;
  /** Pending timers: round timeouts (with what they fire) and the next height's start after a decision (null). */
  private readonly timers = new Map<NodeJS.Timeout, TimerSpec | null>();

  /** Height the machine works on; 0 before consensus started. */
  private height = 0;
  private heightStartedAt = 0;
  private decided = false;
  private syncing = true;
  private priorities: ProposerPriorities | undefined;
  /** Whether this node's key is in the set of the current height (logged when it changes). */
  private signing = false;
  private readonly proposerCache = new Map<number, Uint8Array>();
  /** Validator sets and proposer priorities by height, fetched before they are needed synchronously. */
  private readonly sets: HeightSets;
  /** Blocks of the current height by hash, executed (valid) or refused (null). */
  private readonly blocks = new Map<string, ExecutedBlock | null>();
  /** Every message of the current height this node holds, for peers that connect or lag. */
  private heightMessages: WireConsensusMessage[] = [];
  /** Messages of heights above the current one. */
  private future: Input[] = [];
  private signed: SignedHistory = emptySignedHistory();
  private peerCheck: NodeJS.Timeout | undefined;
  /** Rounds per decided height, for metrics and the bench. */
  readonly stats = { heights: 0, rounds: 0 };

  constructor(
    opts: Partial<BftEngineOptions>,
    private readonly deps: BftEngineDeps,
  ) {
    super();
    this.opts = { ...defaultBftEngineOptions, tendermint: {}, ...opts };
    for (const k of ["timeoutCommitMs", "maxClockDriftMs", "catchUpAfterMs", "maxProposalTxBytes", "maxBufferedMessages"] as const) {
      const v = this.opts[k];
      if (!Number.isSafeInteger(v) || v < 0) throw new ConsensusError(ConsensusErrorCode.BAD_OPTIONS, `consensus option ${k} must be a non-negative integer, got ${String(v)}`);
    }
    this.machine = new TendermintMachine({ self: deps.privval?.address ?? null, options: this.opts.tendermint });
    const consensusData = new ConsensusStore(deps.store.kv);
    this.sets = new HeightSets((h) => deps.validatorSetAt(h), (h) => consensusData.proposerPrioritiesBytes(h), () => this.height);
    this.exec = { chainId: deps.chainId, store: deps.store, verifier: deps.verifier, params: deps.params, knownTx: (h) => deps.mempool.get(h) };
  }

  get address(): Uint8Array | undefined {
    return this.deps.privval?.address;
  }

  /** True until consensus runs (initial block sync, or catching up after falling behind). */
  isSyncing(): boolean {
    return this.syncing;
  }

  /** The height being decided (0 before consensus started). */
  currentHeight(): number {
    return this.height;
  }

  roundState() {
    return this.machine.roundState;
  }

  /**
   * Start the loop; consensus begins with `startConsensus` (after the
   * initial block sync). Messages that arrive before are buffered.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    this.peerCheck = setInterval(() => this.push({ kind: "checkPeers" }), Math.max(100, Math.min(1000, this.opts.catchUpAfterMs / 2)));
    this.peerCheck.unref();
  }

  /** Join consensus at the store's head + 1 (replaying the WAL for that height). */
  startConsensus(): void {
    this.push({ kind: "startHeight" });
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.peerCheck);
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    this.wake?.();
    await this.loopDone;
  }

  /**
   * A message from a peer: the network side's checks (signature by a member
   * of the height's set, block matching the proposal) before it is queued
   * for the loop. Returns false for a message that must not be relayed.
   */
  admit(msg: WireConsensusMessage, from: string): boolean {
    const height = msg.kind === "proposal" ? msg.proposal.height : msg.vote.height;
    const head = this.deps.store.head().height;
    // Old heights are decided: nothing to do with their messages.
    if (height <= head) return false;
    const set = this.sets.cached(height);
    if (set) return this.admitWithSet(msg, from, set);
    if (height > head + 2) {
      // The set of this height is not known yet (changes take effect at H+2): no check can be fair to the sender. Kept
      // unverified for when the height starts (a node that is catching up uses its peers' current messages), within bounds.
      this.push({ kind: "message", msg, from, unverified: true });
      return false;
    }
    // A height whose set is known but not at hand: fetch it, then check.
    this.deps.validatorSetAt(height).then(
      (s) => {
        this.sets.keep(height, s);
        this.admitWithSet(msg, from, s);
      },
      () => {},
    );
    return false;
  }

  private admitWithSet(msg: WireConsensusMessage, from: string, set: ValidatorSet): boolean {
    const check = checkConsensusMessage(this.deps.chainId, msg, set);
    if (!check.ok) {
      this.deps.reportPeer?.(from, check.refused);
      return false;
    }
    this.push({ kind: "message", msg, from, ...(check.block ? { block: check.block } : {}) });
    return true;
  }

  /**
   * The check of a message that arrived before its height's set was known,
   * now against that set: the sender pays only for what this check refuses.
   * Returns the input ready for the machine (the proposal's block decoded),
   * or undefined.
   */
  private verifyLate(input: Extract<Input, { kind: "message" }>, set: ValidatorSet): Extract<Input, { kind: "message" }> | undefined {
    const { msg, from } = input;
    const check = checkConsensusMessage(this.deps.chainId, msg, set);
    if (!check.ok) {
      if (from !== undefined) this.deps.reportPeer?.(from, check.refused);
      return undefined;
    }
    return { kind: "message", msg, from, ...(check.block ? { block: check.block } : {}) };
  }

  /**
   * Whether `commit` proves `block` decided: it names the block and carries
   * more than 2/3 of the power of the set of the block's height. Undefined
   * when that set is not known here yet (beyond head + 2): no proof either way.
   */
  async verifyCommitOf(block: Block, commit: Commit): Promise<boolean | undefined> {
    const h = block.header.height;
    if (commit.height !== h || !bytesEqual(commit.blockHash, headerHash(block.header))) return false;
    if (h > this.deps.store.head().height + 2) return undefined;
    return verifyCommit(this.deps.chainId, commit, await this.sets.at(h));
  }

  /** A block committed by block sync: verify it against its commit and store it. Only while syncing. */
  async applySyncedBlock(block: Block, commit: Commit): Promise<void> {
    if (!this.syncing) throw new BlockValidationError("consensus is running; synced blocks are not applied");
    const h = block.header.height;
    const set = await this.sets.at(h);
    const pr = await this.sets.prioritiesAt(h, set);
    const ex = await verifyCommittedBlock(this.exec, block, commit, {
      validators: set,
      nextValidators: await this.sets.at(h + 1),
      lastValidators: h > 1 ? await this.sets.at(h - 1) : undefined,
      proposerOf: (round) => pr.advance(round).proposer(),
      setAt: (height) => this.sets.at(height),
    });
    await this.commitBlock(ex, commit, pr);
  }

  // ---------------------------------------------------------------------
  // The loop

  private push(input: Input): void {
    if (!this.running) return;
    // While the loop catches up by block sync, peers' messages pile up: keep the newest within bounds.
    if (input.kind === "message" && this.queue.length >= this.opts.maxBufferedMessages) {
      const i = this.queue.findIndex((q) => q.kind === "message");
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.queue.push(input);
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const input = this.queue.shift();
      if (!input) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      try {
        await this.handleInput(input);
      } catch (e) {
        // A local failure (disk, a bug): log it and go on; the round's timeouts move consensus along.
        this.deps.log.warn("consensus input failed", { input: input.kind, error: (e as Error).message, code: (e as { code?: unknown }).code });
      }
    }
  }

  private async handleInput(input: Input): Promise<void> {
    switch (input.kind) {
      case "startHeight":
        return this.startHeight();
      case "checkPeers":
        return this.checkPeers();
      case "catchUp":
        return this.catchUp(input.target);
      case "timeout": {
        if (this.syncing || input.height !== this.height || this.decided) return;
        await this.walAppend({ kind: "timeout", height: input.height, round: input.round, step: input.step });
        return this.run(this.machine.handle({ kind: "timeout", height: input.height, round: input.round, step: input.step }));
      }
      case "message":
        return this.onMessage(input);
    }
  }

  private async onMessage(input: Extract<Input, { kind: "message" }>): Promise<void> {
    const { msg } = input;
    const height = msg.kind === "proposal" ? msg.proposal.height : msg.vote.height;
    if (this.syncing || height > this.height) {
      if (height > this.deps.store.head().height) this.buffer(input);
      return;
    }
    if (height < this.height || this.decided) return;
    if (input.unverified) {
      // Its height has started: the check against the height's own set, the only one that may cost the sender.
      const checked = this.verifyLate(input, await this.sets.at(height));
      if (!checked) return;
      return this.onMessage(checked);
    }
    this.remember(msg);
    // Relay before handling: gossip must reach nodes that lack it (the network skips peers that have it).
    if (input.from !== undefined) this.deps.broadcast(msg, input.from);
    if (msg.kind === "vote") {
      await this.walAppend({ kind: "vote", vote: msg.vote });
      return this.run(this.machine.handle({ kind: "vote", vote: msg.vote }));
    }
    const valid = await this.validateProposal(msg.proposal, input.block ?? decodeBlock(msg.block));
    await this.walAppend({ kind: "proposal", proposal: msg.proposal, valid, block: msg.block });
    return this.run(this.machine.handle({ kind: "proposal", proposal: msg.proposal, valid }));
  }

  private async validateProposal(p: Proposal, block: Block): Promise<boolean> {
    const key = toHex(p.blockHash);
    if (this.blocks.has(key)) return this.blocks.get(key) !== null;
    let ex: ExecutedBlock | null = null;
    try {
      if (!bytesEqual(block.header.proposer, p.proposer)) throw new BlockValidationError("header proposer is not the proposal's signer");
      ex = await validateBlock(this.exec, block, {
        validators: await this.sets.at(p.height),
        nextValidators: await this.sets.at(p.height + 1),
        lastValidators: p.height > 1 ? await this.sets.at(p.height - 1) : undefined,
        proposer: this.proposerOf(p.round),
        maxTime: this.deps.clock() + this.opts.maxClockDriftMs,
        setAt: (height) => this.sets.at(height),
      });
    } catch (e) {
      if (!(e instanceof CodedError)) throw e;
      this.deps.log.info("proposed block refused", { height: p.height, round: p.round, code: e.code, error: e.message });
    }
    this.blocks.set(key, ex);
    return ex !== null;
  }

  private buffer(input: Input): void {
    if (input.kind !== "message") return;
    if (input.unverified) {
      // Unverified messages cost nobody anything: they get a small share of the buffer, proposals (whole blocks) a smaller one.
      const isProposal = input.msg.kind === "proposal";
      const same = this.future.filter((i) => i.kind === "message" && i.unverified && (i.msg.kind === "proposal") === isProposal).length;
      const cap = isProposal ? MAX_UNVERIFIED_PROPOSALS : Math.max(1, Math.floor(this.opts.maxBufferedMessages / 4));
      if (same >= cap) {
        const i = this.future.findIndex((f) => f.kind === "message" && f.unverified && (f.msg.kind === "proposal") === isProposal);
        this.future.splice(i, 1);
      }
    }
    this.future.push(input);
    if (this.future.length > this.opts.maxBufferedMessages) this.future.shift();
  }

  private remember(msg: WireConsensusMessage): void {
    if (this.heightMessages.length < this.opts.maxBufferedMessages) this.heightMessages.push(msg);
  }

  /** Every message of the current height, for a peer that just connected. */
  currentMessages(): readonly WireConsensusMessage[] {
    return this.heightMessages;
  }

  // ---------------------------------------------------------------------
  // Heights

  private proposerOf(round: number): Uint8Array {
    let p = this.proposerCache.get(round);
    if (!p) {
      p = this.priorities!.advance(round).proposer();
      this.proposerCache.set(round, p);
    }
    return p;
  }

  private async startHeight(): Promise<void> {
    const height = this.deps.store.head().height + 1;
    this.syncing = false;
    this.height = height;
    this.heightStartedAt = this.deps.clock();
    this.decided = false;
    this.blocks.clear();
    this.heightMessages = [];
    this.proposerCache.clear();
    // The sets this height needs synchronously: its own (votes, header), the previous (lastCommit), the next (early messages).
    this.sets.dropBelow(height - 1);
    if (height > 1) await this.sets.at(height - 1);
    const validators = await this.sets.at(height);
    await this.sets.at(height + 1);
    this.priorities = await this.sets.prioritiesAt(height, validators);
    if (this.deps.privval) {
      const member = validators.byAddress(this.deps.privval.address) !== undefined;
      if (member !== this.signing) {
        this.signing = member;
        this.deps.log.info(member ? "this node's key is in the validator set: signing" : "this node's key is not in the validator set: following", { height });
      }
    }
    const inputs = await this.loadWal(height);
    await this.run(this.machine.handle({ kind: "start", height, validators, proposerOf: (r) => this.proposerOf(r) }));
    await this.replayWal(height, inputs);
    await this.handleBuffered();
  }

  /** The buffered messages of the current height, handled now (unverified ones checked first, in onMessage). */
  private async handleBuffered(): Promise<void> {
    const height = this.height;
    const ready = this.future.filter((i) => i.kind === "message" && heightOf(i.msg) === height);
    this.future = this.future.filter((i) => i.kind === "message" && heightOf(i.msg) > height);
    for (const i of ready) await this.handleInput(i);
  }

  /** The WAL's records of `height`: signed ones answer the machine's requests (never a new signature); the inputs are returned for replay. */
  private async loadWal(height: number): Promise<WalRecord[]> {
    this.signed = emptySignedHistory();
    const { signed, inputs } = await readHeightWal(this.deps.wal, height);
    this.signed = signed;
    if (inputs.length > 0 || signed.votes.size > 0 || signed.proposals.size > 0) {
      this.deps.log.info("replaying the consensus WAL", { height, inputs: inputs.length, signedVotes: signed.votes.size, signedProposals: signed.proposals.size });
    }
    return inputs;
  }

  /** Feed the WAL's inputs of `height` through the machine, in order: the round state and lock come back. */
  private async replayWal(height: number, inputs: WalRecord[]): Promise<void> {
    if (inputs.length === 0) return;
    {
      for (const r of inputs) {
        let actions: TendermintAction[] = [];
        if (r.kind === "vote") {
          this.remember({ kind: "vote", vote: r.vote });
          actions = this.machine.handle({ kind: "vote", vote: r.vote });
        } else if (r.kind === "timeout") {
          actions = this.machine.handle({ kind: "timeout", height: r.height, round: r.round, step: r.step });
        } else if (r.kind === "proposal") {
          let valid = r.valid;
          if (r.block) {
            this.remember({ kind: "proposal", proposal: r.proposal, block: r.block });
            // Re-execute to have the block ready for a commit; the recorded verdict stands.
            if (valid) valid = await this.validateProposal(r.proposal, decodeBlock(r.block));
          }
          actions = this.machine.handle({ kind: "proposal", proposal: r.proposal, valid });
        }
        await this.run(actions);
      }
    }
    const rs = this.machine.roundState;
    this.deps.log.info("WAL replayed", { height, round: rs.round, step: rs.step, lockedRound: rs.lockedRound });
  }

  /**
   * Peers may have decided this node's height without it (it was down, cut
   * off, or missed the proposal). A claim (status) is not enough to stop
   * voting: it only asks block sync for a proof. A proven height, after
   * catchUpAfterMs at this height, pauses consensus for block sync.
   */
  private checkPeers(): void {
    if (this.syncing || this.height === 0 || !this.deps.catchUp) return;
    if (this.deps.clock() - this.heightStartedAt < this.opts.catchUpAfterMs) return;
    const proven = this.deps.provenPeersHeight?.();
    if (proven !== undefined && proven >= this.height) {
      this.push({ kind: "catchUp", target: proven });
      return;
    }
    const claimed = this.deps.peersHeight?.();
    if (claimed !== undefined && claimed >= this.height) this.deps.requestProof?.(this.height);
  }

  /** Pause consensus, sync up to (at least) `target`, then resume at the store's head (resumeAfterSync). */
  private async catchUp(target: number): Promise<void> {
    if (this.syncing || this.height === 0 || !this.deps.catchUp || this.deps.store.head().height >= target) return;
    this.deps.log.info("behind the peers: catching up by block sync", { height: this.height, provenHeight: target, peersHeight: this.deps.peersHeight?.() });
    this.syncing = true;
    // Round timers stop while blocks are fetched; kept to be armed again if this height goes on.
    const paused = [...this.timers.values()].filter((t): t is TimerSpec => t !== null);
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    try {
      await this.deps.catchUp(target);
    } catch (e) {
      this.deps.log.warn("block sync failed; consensus goes on", { error: (e as Error).message });
    }
    await this.resumeAfterSync(paused);
  }

  /**
   * Back from block sync, whatever it found: when the head moved past the
   * height in progress, that height is closed and the next one starts; when
   * it did not (no block, a peer that could not deliver), the height goes on
   * as it was: the machine's round state and lock are untouched, the paused
   * timeouts are armed again, and what arrived meanwhile is handled.
   */
  private async resumeAfterSync(paused: readonly TimerSpec[]): Promise<void> {
    const head = this.deps.store.head().height;
    if (head >= this.height) {
      await this.deps.wal?.endHeight(head);
      this.deps.log.info("block sync moved the head: consensus resumes at the next height", { height: head + 1 });
      return this.startHeight();
    }
    this.syncing = false;
    this.heightStartedAt = this.deps.clock();
    this.deps.log.info("block sync found no block of this height: consensus resumes where it was", { height: this.height, round: this.machine.roundState.round, step: this.machine.roundState.step });
    for (const t of paused) if (t.height === this.height) this.schedule(t.height, t.round, t.step, t.ms);
    await this.handleBuffered();
  }

  // ---------------------------------------------------------------------
  // Actions

  private async run(actions: TendermintAction[]): Promise<void> {
    for (const a of actions) {
      if (!this.running) return;
      try {
        await this.runAction(a);
      } catch (e) {
        // One failed action (a refused signature, a failed build) must not cost the others: a lost timer would stall the round.
        this.deps.log.warn("consensus action failed", { action: a.kind, height: this.height, error: (e as Error).message, code: (e as { code?: unknown }).code });
      }
    }
  }

  private async runAction(a: TendermintAction): Promise<void> {
    {
      switch (a.kind) {
        case "scheduleTimeout":
          this.schedule(a.height, a.round, a.step, a.ms);
          break;
        case "vote":
          await this.castVote(a.type, a.height, a.round, a.blockHash);
          break;
        case "propose":
          await this.propose(a.height, a.round, a.validValue, a.validRound);
          break;
        case "commit":
          await this.decide(a.height, a.round, a.blockHash, a.commit);
          break;
        case "evidence":
          this.deps.log.warn("equivocation detected", { validator: toHex(a.evidence.voteA.validator), height: a.evidence.voteA.height });
          this.deps.onEvidence?.(a.evidence);
          break;
      }
    }
  }

  private schedule(height: number, round: number, step: RoundStep, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.push({ kind: "timeout", height, round, step });
    }, ms);
    this.timers.set(t, { height, round, step, ms });
  }

  private async castVote(type: VoteType, height: number, round: number, blockHash: Uint8Array): Promise<void> {
    const privval = this.deps.privval!;
    let vote = this.signed.votes.get(voteKey(round, type));
    if (vote && !bytesEqual(vote.blockHash, blockHash)) {
      // The machine asks for another vote than the one signed before the crash: never sign it (invariant 4).
      this.deps.log.warn("refusing a vote that conflicts with one signed before a restart", { height, round, type });
      return;
    }
    if (!vote) {
      vote = await privval.signVote(this.deps.chainId, { type, height, round, blockHash, validator: privval.address });
      await this.walAppend({ kind: "signedVote", vote }, true);
    }
    const msg: WireConsensusMessage = { kind: "vote", vote };
    this.remember(msg);
    this.deps.broadcast(msg);
    await this.run(this.machine.handle({ kind: "vote", vote }));
  }

  private async propose(height: number, round: number, validValue: Uint8Array | null, validRound: number): Promise<void> {
    const privval = this.deps.privval!;
    let proposal: Proposal;
    let encoded: Uint8Array;
    const before = this.signed.proposals.get(round);
    if (before && before.block) {
      // Proposed before a restart: the same proposal again, never a new block.
      proposal = before.proposal;
      encoded = before.block;
      await this.validateProposal(proposal, decodeBlock(encoded));
    } else {
      if (before) return;
      let ex: ExecutedBlock | null | undefined;
      if (validValue) {
        ex = this.blocks.get(toHex(validValue));
        if (!ex) {
          this.deps.log.warn("the valid value to re-propose is not at hand", { height, round });
          return;
        }
      } else {
        ex = await this.buildProposal(height);
      }
      proposal = await privval.signProposal(this.deps.chainId, { height, round, polRound: validValue ? validRound : -1, blockHash: ex.hash, proposer: privval.address });
      encoded = encodeBlock(ex.block);
      this.blocks.set(toHex(ex.hash), ex);
      await this.walAppend({ kind: "signedProposal", proposal, block: encoded }, true);
    }
    const msg: WireConsensusMessage = { kind: "proposal", proposal, block: encoded };
    this.remember(msg);
    this.deps.broadcast(msg);
    await this.run(this.machine.handle({ kind: "proposal", proposal, valid: true }));
  }

  private buildProposal(height: number): Promise<ExecutedBlock> {
    // The whole block must fit in one p2p frame.
    const params = { ...this.deps.params, maxBlockBytes: Math.min(this.deps.params.maxBlockBytes, this.opts.maxProposalTxBytes) };
    return buildNextBlock({ ...this.exec, params }, this.deps.mempool, {
      height,
      now: this.deps.clock(),
      proposer: this.deps.privval!.address,
      setAt: (h) => this.sets.at(h),
      pendingEvidence: this.deps.pendingEvidence?.() ?? [],
      onEvidenceLeftOut: (e) => this.deps.log.info("pending evidence left out", { height, code: e.code, error: e.message }),
      onRejected: (hash, why) => this.emit("txRejected", { hash, why }),
    });
  }

  private async decide(height: number, round: number, blockHash: Uint8Array, commit: Commit): Promise<void> {
    const ex = this.blocks.get(toHex(blockHash));
    if (!ex) throw new BlockValidationError(`decided block ${toHex(blockHash)} at height ${height} is not at hand`);
    this.decided = true;
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    await this.commitBlock(ex, commit, this.priorities!);
    this.stats.heights++;
    this.stats.rounds += round + 1;
    await this.deps.wal?.endHeight(height);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.push({ kind: "startHeight" });
    }, this.opts.timeoutCommitMs);
    this.timers.set(t, null);
  }

  /** Store the block, its commit and the next height's priorities (for the next height's set) in one batch; then the mempool and the events. */
  private async commitBlock(ex: ExecutedBlock, commit: Commit, priorities: ProposerPriorities): Promise<void> {
    // The set of h+1 is known before h commits (changes take effect at H+2).
    const next = priorities.nextFor(await this.sets.at(ex.block.header.height + 1));
    // No guard state to add: the privval synced it before each of this node's votes was broadcast.
    await commitDecidedBlock({ store: this.deps.store, mempool: this.deps.mempool, onBlock: (ev) => this.emit("block", ev), onTxRejected: (d) => this.emit("txRejected", d) }, ex, commit, { signState: undefined, nextPriorities: next });
    if (ex.txs.length > 0 || ex.evidence.length > 0) this.deps.log.info("committed block", { height: ex.block.header.height, round: commit.round, txs: ex.txs.length, evidence: ex.evidence.length, hash: toHex(ex.hash).slice(0, 16) });
  }

  private async walAppend(r: WalRecord, sync = false): Promise<void> {
    if (!this.deps.wal) return;
    await this.deps.wal.append(encodeWalRecord(r), { sync });
  }
}

function heightOf(msg: WireConsensusMessage): number {
  return msg.kind === "proposal" ? msg.proposal.height : msg.vote.height;
}

