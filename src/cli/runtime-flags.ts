/**
 * Flags the node's runtime is started with. V8 fixes the sizes of its heap
 * when the process starts, so they cannot be set from inside: the `sid`
 * command's first line (main.ts), `npm start`, and the helpers that start
 * nodes for the tests and benchmarks all pass them (a test checks the
 * first two).
 *
 * --max-semi-space-size=64 (MiB; V8's default is 16): a node allocates a
 * block's worth of short-lived objects between two collections (decoded
 * txs, tree nodes, records, keys); with small semi-spaces many of them are
 * still live at the next scavenge and are copied, or promoted to the old
 * generation and traced again later. On a copy of a store grown from
 * 3,960,000 to 4,320,000 DIDs, 60,000 creates a run: 1,548 and 1,570
 * creates/s against 1,359 and 1,361 (32 MiB: 1,398 and 1,433); main
 * thread 365 us per create against 418; anonymous memory after the load
 * 1,025-1,030 MB against 893-984.
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ["--max-semi-space-size=64"];
