/** Browser stand-in for node:zlib: the explorer reads no status lists, so inflating one is not offered. */
function unavailable(): never {
  throw new Error("status lists are not decoded in the explorer");
}
export const deflateSync = unavailable;
export const inflateSync = unavailable;
export const constants = {};
