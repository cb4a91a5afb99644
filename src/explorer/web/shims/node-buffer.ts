/** Browser stand-in for node:buffer: the Buffer class of the `buffer` package, and isUtf8 by a fatal TextDecoder. */
export { Buffer } from "buffer";

const strict = new TextDecoder("utf-8", { fatal: true });

export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
