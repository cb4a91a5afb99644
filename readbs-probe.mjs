// Random point reads against LevelDB stores that differ only in table block size.
import { Level } from "level";
import { randomBytes } from "node:crypto";
import { execSync } from "node:child_process";
import { createDidTx } from "./dist/src/client/index.js";
import { randomKeyPair } from "./dist/src/crypto/hd.js";
import { encodeTx } from "./dist/src/chain/tx.js";
const N = +(process.env.N ?? 200000), READS = +(process.env.READS ?? 40000);
const tpl = []; for (let i = 0; i < 50; i++) tpl.push(encodeTx(createDidTx("sid-dev", randomKeyPair()).tx));
const key = (i) => { const k = Buffer.alloc(13); k[0] = 0x62; k.writeUInt32BE(i >>> 9, 5); k.writeUInt32BE(i & 511, 9); return k; };
const sizes = [4096, 16384];
for (const bs of sizes) {
  const p = `/tmp/rb/${bs}`; execSync(`rm -rf ${p}`);
  const db = new Level(p, { keyEncoding: "view", valueEncoding: "view", blockSize: bs }); await db.open();
  let b = db.batch();
  for (let i = 0; i < N; i++) { const v = Buffer.from(tpl[i % 50]); randomBytes(100).copy(v, 100); b.put(key(i), v); if (i % 2000 === 1999) { await b.write(); b = db.batch(); } }
  await b.write(); await db.compactRange(Buffer.from([0]), Buffer.from([0xff])); await db.close();
}
const order = []; for (let i = 0; i < READS; i++) order.push(Math.floor(Math.random() * N));
for (let round = 0; round < 3; round++) for (const bs of sizes) for (const cacheSize of [8 << 20]) {
  const db = new Level(`/tmp/rb/${bs}`, { keyEncoding: "view", valueEncoding: "view", blockSize: bs, cacheSize }); await db.open();
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < READS; i += 64) await db.getMany(order.slice(i, i + 64).map(key));
  const ms = performance.now() - t0; const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ round, blockSize: bs, cacheMiB: cacheSize >> 20, usPerRead: +(ms * 1000 / READS).toFixed(2), cpuUsPerRead: +((cpu.user + cpu.system) / READS).toFixed(2) }));
  await db.close();
}
