/** Browser stand-in for node:fs: the explorer passes genesis JSON it fetched, never a path. */
export function readFileSync(): never {
  throw new Error("no file system in the browser");
}
