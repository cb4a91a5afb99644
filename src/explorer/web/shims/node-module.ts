/** Browser stand-in for node:module: there is no native addon to load, so the secp256k1 code takes its pure-JS backend. */
export function createRequire(): (id: string) => never {
  return (id: string) => {
    throw new Error(`${id} cannot be loaded in a browser`);
  };
}
