/**
 * The validator's private signer for a multi-validator network: the
 * double-sign guard of ValidatorSigner plus a sign-state file that makes the
 * guard survive crashes (invariant 4: what a validator signed is persisted
 * before it is sent).
 *
 * Before a new signature is returned, the new guard state (height, round,
 * step, digest, signature) is written to a temp file, fsynced, renamed over
 * the state file, and the directory is fsynced, so after a crash the file
 * holds either the old state (and the signature never left) or the new one.
 * On open the file is loaded; an identical re-sign returns the stored
 * signature, and a conflicting one is refused with DoubleSignError.
 *
 * The file is <home>/data/priv_validator_state.json by convention
 * (PRIV_VALIDATOR_STATE_FILE), mode 0600:
 *   {"address": "<hex>", "height": 5, "round": 0, "step": 2, "digest": "<hex>", "sig": "<hex>"}
 * The address ties it to one key: starting with another key's state file
 * would disarm the guard, so it is refused.
 */
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { toHex } from "../crypto/bytes.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { type Proposal, type UnsignedProposal, type UnsignedVote, type Vote, signProposal, signVote } from "./messages.js";
import { type SignState, ValidatorSigner } from "./signer.js";
import { VoteStep } from "../chain/vote.js";

export const PRIV_VALIDATOR_STATE_FILE = "priv_validator_state.json";

interface StateFile extends SignState {
  address: string;
}

function stateError(path: string, message: string): ConsensusError {
  return new ConsensusError(ConsensusErrorCode.PRIVVAL_STATE, `${path}: ${message}`, { path });
}

const HEX_RE = /^(?:[0-9a-f]{2})+$/;

function parseState(path: string, text: string, address: string): SignState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw stateError(path, `not valid JSON (${(e as Error).message}); refusing to sign without the guard state`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw stateError(path, "expected a JSON object");
  const r = raw as Record<string, unknown>;
  const keys = Object.keys(r).sort().join(",");
  if (keys !== "address,digest,height,round,sig,step") throw stateError(path, "expected exactly the keys address, height, round, step, digest, sig");
  if (r.address !== address) throw stateError(path, `belongs to validator ${String(r.address)}, not ${address}`);
  if (!Number.isSafeInteger(r.height) || (r.height as number) < 0) throw stateError(path, "height must be a non-negative integer");
  if (!Number.isSafeInteger(r.round) || (r.round as number) < 0) throw stateError(path, "round must be a non-negative integer");
  if (r.step !== VoteStep.Propose && r.step !== VoteStep.Prevote && r.step !== VoteStep.Precommit) throw stateError(path, "step must be 0, 1 or 2");
  if (typeof r.digest !== "string" || !HEX_RE.test(r.digest) || r.digest.length !== 64) throw stateError(path, "digest must be 32 bytes of lowercase hex");
  if (typeof r.sig !== "string" || !HEX_RE.test(r.sig) || r.sig.length !== 128) throw stateError(path, "sig must be 64 bytes of lowercase hex");
  return { height: r.height as number, round: r.round as number, step: r.step, digest: r.digest, sig: r.sig };
}

function sameState(a: SignState | undefined, b: SignState): boolean {
  return a !== undefined && a.height === b.height && a.round === b.round && a.step === b.step && a.digest === b.digest && a.sig === b.sig;
}

export class FilePrivValidator {
  /** Signing is one-at-a-time: a second caller must not get a signature before the first one's state is on disk. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly signer: ValidatorSigner,
    /** The state known to be on disk. */
    private persisted: SignState | undefined,
  ) {}

  /**
   * Load the guard state from `path` (none yet: a fresh validator) for the
   * key `secretKey`. A file that exists but cannot be read as a state of this
   * key is refused with PRIVVAL_BAD_STATE: signing without it could double-sign.
   */
  static async open(path: string, secretKey: Uint8Array): Promise<FilePrivValidator> {
    const probe = new ValidatorSigner(secretKey, undefined);
    const address = toHex(probe.address);
    let state: SignState | undefined;
    try {
      state = parseState(path, await readFile(path, "utf8"), address);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    return new FilePrivValidator(path, new ValidatorSigner(secretKey, state), state);
  }

  get address(): Uint8Array {
    return this.signer.address;
  }

  get publicKey(): Uint8Array {
    return this.signer.publicKey;
  }

  /** The last signature given, as stored in the file. */
  get lastSigned(): SignState | undefined {
    return this.persisted;
  }

  /**
   * After the guard state was lost and the operator reset it: sign nothing
   * below `networkHeight()` (read when this validator is first asked to
   * sign) plus `margin`. Whatever it signed before the loss was at most at
   * the height then in progress, so nothing it signs from the floor on can
   * conflict with it.
   */
  requireFloor(margin: number, networkHeight: () => number, onFixed?: (floor: number) => void): void {
    if (!Number.isSafeInteger(margin) || margin < 0) throw new ConsensusError(ConsensusErrorCode.BAD_OPTIONS, `margin must be a non-negative integer, got ${String(margin)}`);
    this.floorRule = { margin, networkHeight, ...(onFixed ? { onFixed } : {}) };
  }

  /** The height signing starts at after a reset (undefined before the first request, or without a reset). */
  get signFloor(): number | undefined {
    return this.floorRule?.floor;
  }

  private floorRule: { margin: number; networkHeight: () => number; onFixed?: (floor: number) => void; floor?: number } | undefined;

  private checkFloor(height: number): void {
    const r = this.floorRule;
    if (!r) return;
    if (r.floor === undefined) {
      r.floor = r.networkHeight() + r.margin;
      r.onFixed?.(r.floor);
    }
    if (height < r.floor) {
      throw new ConsensusError(ConsensusErrorCode.PRIVVAL_STATE, `${this.path}: the guard state was reset; not signing below height ${r.floor} (asked for ${height})`, { path: this.path, floor: r.floor, height });
    }
  }

  /** Sign a vote of this validator; resolves once the guard state is durable. Throws DoubleSignError on conflict. */
  signVote(chainId: string, vote: UnsignedVote): Promise<Vote> {
    return this.serial(async () => {
      this.checkFloor(vote.height);
      const { vote: signed, state } = signVote(chainId, vote, this.signer);
      await this.persist(state);
      return signed;
    });
  }

  /** Sign a proposal (step Propose of its round); resolves once the guard state is durable. */
  signProposal(chainId: string, proposal: UnsignedProposal): Promise<Proposal> {
    return this.serial(async () => {
      this.checkFloor(proposal.height);
      const { proposal: signed, state } = signProposal(chainId, proposal, this.signer);
      await this.persist(state);
      return signed;
    });
  }

  /** Told when the guard state cannot be written (a full or read-only disk): this validator cannot sign until it can. */
  onWriteFailure: ((e: Error) => void) | undefined;

  private async persist(state: SignState): Promise<void> {
    try {
      await this.writeState(state);
    } catch (e) {
      this.onWriteFailure?.(e as Error);
      throw e;
    }
  }

  private async writeState(state: SignState): Promise<void> {
    // An identical re-sign of what is already on disk needs no write; an
    // identical re-sign after a failed write does (the memory guard moved on
    // but the file did not).
    if (sameState(this.persisted, state)) return;
    const file: StateFile = { address: toHex(this.signer.address), ...state };
    const tmp = `${this.path}.tmp`;
    await mkdir(dirname(this.path), { recursive: true });
    // A temp file left by a crash may have other permissions; start afresh so it is created 0600.
    await rm(tmp, { force: true });
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(JSON.stringify(file) + "\n", "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.persisted = state;
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.queue.then(op, op);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

