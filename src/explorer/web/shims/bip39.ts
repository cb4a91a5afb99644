/** The explorer never handles mnemonics; this keeps bip39's word lists (most of the bundle) out of the page. */
function unavailable(): never {
  throw new Error("mnemonics are not available in the explorer");
}
export const generateMnemonic = unavailable;
export const validateMnemonic = unavailable;
export const mnemonicToSeedSync = unavailable;
export const mnemonicToSeed = unavailable;
export const mnemonicToEntropy = unavailable;
export const entropyToMnemonic = unavailable;
export const wordlists = {};
export default { generateMnemonic, validateMnemonic, mnemonicToSeedSync, mnemonicToSeed, mnemonicToEntropy, entropyToMnemonic, wordlists };
