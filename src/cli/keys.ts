/** `sid keys ...`: the encrypted keystore under <home>/keys. */
import type { Command } from "commander";
import { createKeyFile, keyExists, KeystoreError, KeystoreErrorCode, listKeys, loadMnemonic, assertKeyName } from "../client/keystore.js";
import { deriveKey, generateMnemonic, validateMnemonic, type KeyPair } from "../crypto/hd.js";
import { CliError } from "./errors.js";
import { type CommonOptions, getMnemonicInput, getPassphrase, printResult, table } from "./io.js";
import { homeOf } from "./node-api.js";
import { withCommonOptions } from "./options.js";

const MNEMONIC_WARNING =
  "Write these 24 words down and keep them offline. They are shown only this once and are the only way to recover the key if the key file or its passphrase is lost.";

export function registerKeyCommands(program: Command): void {
  const keys = program.command("keys").description("manage the encrypted keystore (<home>/keys)");

  withCommonOptions(keys.command("new"))
    .description("generate a 24-word mnemonic, store it encrypted, print it once")
    .requiredOption("--name <name>", "key name ([A-Za-z0-9_-], 1-64 characters)")
    .action(async (opts: CommonOptions & { name: string }) => {
      const home = await homeOf(opts);
      await refuseExisting(home, opts.name);
      const passphrase = await getPassphrase(`for the new key "${opts.name}"`, true);
      const mnemonic = generateMnemonic();
      const info = await createKeyFile(home, opts.name, mnemonic, passphrase);
      printResult(opts, { name: info.name, did: info.did, publicKey: info.publicKey, file: info.file, mnemonic, warning: MNEMONIC_WARNING }, [
        `key "${info.name}" saved to ${info.file}`,
        `DID:        ${info.did}`,
        `public key: ${info.publicKey}`,
        "",
        `WARNING: ${MNEMONIC_WARNING}`,
        "",
        `  ${mnemonic}`,
        "",
      ]);
    });

  withCommonOptions(keys.command("import"))
    .description(`store an existing mnemonic, read from $SID_MNEMONIC or one line of stdin`)
    .requiredOption("--name <name>", "key name ([A-Za-z0-9_-], 1-64 characters)")
    .action(async (opts: CommonOptions & { name: string }) => {
      const home = await homeOf(opts);
      await refuseExisting(home, opts.name);
      const mnemonic = (await getMnemonicInput()).trim();
      if (mnemonic.length === 0) throw new CliError("no mnemonic given: set SID_MNEMONIC or pass it as one line on stdin");
      validateMnemonic(mnemonic);
      const passphrase = await getPassphrase(`for the imported key "${opts.name}"`, true);
      const info = await createKeyFile(home, opts.name, mnemonic, passphrase);
      printResult(opts, { name: info.name, did: info.did, publicKey: info.publicKey, file: info.file }, [
        `key "${info.name}" imported to ${info.file}`,
        `DID:        ${info.did}`,
        `public key: ${info.publicKey}`,
      ]);
    });

  withCommonOptions(keys.command("list"))
    .description("list stored keys with their DID and public key (no passphrase needed)")
    .action(async (opts: CommonOptions) => {
      const home = await homeOf(opts);
      const list = await listKeys(home);
      const text =
        list.length === 0
          ? `no keys in ${home}/keys (create one with: sid keys new --name NAME)`
          : table(
              ["NAME", "DID", "PUBLIC KEY"],
              list.map((k) => [k.name, k.did, k.publicKey]),
            );
      printResult(opts, { keys: list.map(({ name, did, publicKey, createdAt }) => ({ name, did, publicKey, createdAt })) }, text);
    });
}

async function refuseExisting(home: string, name: string): Promise<void> {
  assertKeyName(name);
  if (await keyExists(home, name)) {
    throw new KeystoreError(KeystoreErrorCode.KEY_EXISTS, `a key named "${name}" already exists; choose another --name`);
  }
}

/**
 * The keys of one stored mnemonic, derived on demand and cached (each
 * derivation runs BIP39's 2048 PBKDF2 rounds, ~50 ms).
 */
export class KeyRing {
  private readonly cache = new Map<number, KeyPair>();
  constructor(
    readonly name: string,
    private readonly mnemonic: string,
  ) {}
  key(index: number): KeyPair {
    let k = this.cache.get(index);
    if (!k) {
      k = deriveKey(this.mnemonic, index);
      this.cache.set(index, k);
    }
    return k;
  }
}

/** Decrypt key `name` (asking for its passphrase) into a KeyRing. */
export async function openKeyRing(opts: { home?: string }, name: string): Promise<KeyRing> {
  const home = await homeOf(opts);
  assertKeyName(name);
  // Read the clear part first so a missing key fails before we ask for a passphrase.
  if (!(await keyExists(home, name))) {
    throw new KeystoreError(KeystoreErrorCode.KEY_NOT_FOUND, `no key named "${name}" in ${home}/keys (see: sid keys list)`);
  }
  const passphrase = await getPassphrase(`for key "${name}"`, false);
  return new KeyRing(name, await loadMnemonic(home, name, passphrase));
}
