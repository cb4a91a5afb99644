/** Storage faults: which errors are the disk's, the latch that reports the first, and a real LevelDB whose newest table lost its tail. */
import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { ChainStore } from "../../../src/chain/store.js";
import { FaultLatch, StorageFaultError, asStorageFault } from "../../../src/chain/store-faults.js";
import { storeOpenError } from "../../../src/node/node.js";

function errno(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

function levelError(code: string, message: string, cause?: Error): Error {
  const e = new Error(message, cause ? { cause } : undefined) as Error & { code: string };
  e.code = code;
  return e;
}

describe("chain: storage faults", function () {
  this.timeout(60_000);

  it("classifies the disk's errors as faults, with a remedy by kind", () => {
    const full = asStorageFault(errno("ENOSPC", "ENOSPC: no space left on device, write"), "consensus WAL", "/h/data/cs.wal")!;
    expect(full).to.be.instanceOf(StorageFaultError);
    expect(full.code).to.equal("STORAGE_FAULT");
    expect(full.message).to.equal("consensus WAL /h/data/cs.wal: ENOSPC: ENOSPC: no space left on device, write");
    expect(full.remedy).to.match(/free disk space/);
    expect(asStorageFault(errno("EROFS", "EROFS: read-only file system, open"), "guard state", "/p")!.remedy).to.match(/writable/);
    const io = asStorageFault(levelError("LEVEL_IO_ERROR", "IO error: /h/data/chain/000012.log: No space left on device"), "chain store", "/h/data/chain")!;
    expect(io.causeCode).to.equal("LEVEL_IO_ERROR");
    expect(io.remedy).to.match(/free disk space/);
    expect(asStorageFault(levelError("LEVEL_CORRUPTION", "Corruption: block checksum mismatch"), "chain store", "/c")!.remedy).to.match(/damaged/);
    // The code may sit on the cause only.
    expect(asStorageFault(new Error("write failed", { cause: errno("EIO", "EIO: i/o error") }), "chain store", "/c")!.causeCode).to.equal("EIO");
  });

  it("does not take the caller's errors for faults", () => {
    expect(asStorageFault(levelError("LEVEL_NOT_FOUND", "Entry not found"), "s", "/p")).to.equal(undefined);
    expect(asStorageFault(levelError("LEVEL_DATABASE_NOT_OPEN", "Database is not open"), "s", "/p")).to.equal(undefined);
    expect(asStorageFault(new TypeError("key must be bytes"), "s", "/p")).to.equal(undefined);
    expect(asStorageFault(errno("ENOENT", "no such file"), "s", "/p")).to.equal(undefined);
    expect(asStorageFault("a string", "s", "/p")).to.equal(undefined);
  });

  it("the latch tells each listener the first fault once, and late listeners at once", () => {
    const latch = new FaultLatch();
    const seen: string[] = [];
    latch.onFault((f) => seen.push(`a:${f.causeCode}`));
    const err = errno("ENOSPC", "full");
    expect(latch.report(new Error("not a fault"), "s", "/p")).to.be.instanceOf(Error);
    expect(latch.fault).to.equal(undefined);
    expect(latch.report(err, "s", "/p")).to.equal(err);
    latch.report(errno("EROFS", "ro"), "s", "/p");
    latch.onFault((f) => seen.push(`b:${f.causeCode}`));
    expect(seen).to.deep.equal(["a:ENOSPC", "b:ENOSPC"]);
  });

  describe("a real LevelDB", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "sid-faults-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A store whose every table lost its last 100 bytes, reopened; or the open error when LevelDB checked the tables at open. */
    async function damagedStore(path: string): Promise<{ store: ChainStore; keys: Uint8Array[] } | { openError: unknown }> {
      const store = await ChainStore.open(path);
      // 12 MB: less than LevelDB's write buffer (LEVEL_WRITE_BUFFER_BYTES), so the reopen below, which
      // replays the log, writes it out as a table.
      const keys: Uint8Array[] = [];
      for (let b = 0; b < 12; b++) {
        const batch = store.db.batch();
        for (let i = 0; i < 100; i++) {
          const k = new Uint8Array(Buffer.from(`zz-test-${b}-${i}`));
          keys.push(k);
          batch.put(k, new Uint8Array(randomBytes(10_000)));
        }
        await batch.write();
      }
      await store.close();
      await (await ChainStore.open(path)).close();
      const tables = readdirSync(path).filter((f) => f.endsWith(".ldb"));
      expect(tables.length, "tables written").to.be.greaterThan(0);
      // Every table loses its tail (which table LevelDB reads a key from depends on its compactions).
      for (const t of tables) truncateSync(join(path, t), statSync(join(path, t)).size - 100);
      try {
        return { store: await ChainStore.open(path), keys };
      } catch (e) {
        return { openError: e };
      }
    }

    /** LevelDB may check the table at open: then the open error names the path and the cause. */
    function expectOpenError(path: string, openError: unknown): void {
      const msg = storeOpenError(path, dir, openError).message;
      expect(msg).to.contain(path).and.match(/Corruption|IO error/i);
    }

    function expectFaultLatched(store: ChainStore, path: string): void {
      expect(store.faults.fault).to.be.instanceOf(StorageFaultError);
      expect(store.faults.fault!.path).to.equal(path);
      expect(store.faults.fault!.causeCode).to.match(/LEVEL_CORRUPTION|LEVEL_IO_ERROR/);
    }

    it("tables that lost their last 100 bytes are reported as a fault when read", async () => {
      const path = join(dir, "chain");
      const damaged = await damagedStore(path);
      if ("openError" in damaged) return expectOpenError(path, damaged.openError);
      const { store, keys } = damaged;
      const failures: unknown[] = [];
      for (const k of keys) {
        try {
          await store.db.get(k);
        } catch (e) {
          failures.push(e);
        }
      }
      await store.close();
      expect(failures.length, "reads of the damaged table fail").to.be.greaterThan(0);
      expectFaultLatched(store, path);
    });

    it("a damaged table read through an iterator (as RPC listings read) is reported as a fault too", async () => {
      const path = join(dir, "chain");
      const damaged = await damagedStore(path);
      if ("openError" in damaged) return expectOpenError(path, damaged.openError);
      const { store } = damaged;
      let failure: unknown;
      try {
        for await (const v of store.db.values({ gte: new Uint8Array(Buffer.from("zz-test-")), lt: new Uint8Array(Buffer.from("zz-test.")) })) void v;
      } catch (e) {
        failure = e;
      }
      await store.close();
      expect(failure, "the scan of the damaged tables fails").to.not.equal(undefined);
      expectFaultLatched(store, path);
    });

    it("reads through the key-value interface the repositories use (get, getMany, scans) report the fault too", async () => {
      const path = join(dir, "chain");
      const damaged = await damagedStore(path);
      if ("openError" in damaged) return expectOpenError(path, damaged.openError);
      const { store, keys } = damaged;
      const failures: unknown[] = [];
      const attempt = async (read: () => Promise<unknown>) => {
        try {
          await read();
        } catch (e) {
          failures.push(e);
        }
      };
      await attempt(async () => {
        for await (const v of store.kv.values({ gte: new Uint8Array(Buffer.from("zz-test-")), lt: new Uint8Array(Buffer.from("zz-test.")) })) void v;
      });
      await attempt(() => store.kv.getMany(keys));
      for (const k of keys) await attempt(() => store.kv.get(k));
      await store.close();
      expect(failures.length, "reads of the damaged tables fail").to.be.greaterThan(0);
      expectFaultLatched(store, path);
    });

    it("a store whose CURRENT file is damaged fails to open with its path and LevelDB's cause", async () => {
      const path = join(dir, "chain");
      const store = await ChainStore.open(path);
      await store.close();
      writeFileSync(join(path, "CURRENT"), "garbage");
      let err: unknown;
      try {
        await ChainStore.open(path);
      } catch (e) {
        err = e;
      }
      expect(err, "open of a damaged store").to.be.instanceOf(Error);
      expect((err as Error).message).to.equal("Database failed to open");
      const msg = storeOpenError(path, dir, err).message;
      expect(msg).to.contain(`cannot open the chain store ${path}: `);
      expect(msg).to.match(/CURRENT|Corruption/);
      expect(msg).to.contain("sync from its peers");
    });

    it("a missing directory the store cannot create names the path and the cause", async () => {
      const blocker = join(dir, "file");
      writeFileSync(blocker, "x");
      const path = join(blocker, "chain");
      let err: unknown;
      try {
        await ChainStore.open(path);
      } catch (e) {
        err = e;
      }
      const msg = storeOpenError(path, dir, err).message;
      expect(msg).to.contain(path);
      expect(msg).to.not.equal(`cannot open the chain store ${path}: Database failed to open`);
    });
  });
});
