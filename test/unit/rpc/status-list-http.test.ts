/**
 * GET /status-lists/:issuerId/:listId over an in-memory record, driven with
 * app.inject: the token unmodified, its ETag and cache lifetime, 304 on a
 * matching If-None-Match, 404 and 400.
 */
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { createHash } from "node:crypto";
import type { StatusListRecord } from "../../../src/chain/state.js";
import { DEFAULT_STATUS_LIST_BASE_URI } from "../../../src/chain/genesis.js";
import { buildStatusListPayload, newStatusList, signStatusListToken, statusListUri } from "../../../src/did/status-list.js";
import { DEFAULT_MAX_AGE_SECONDS, registerStatusListRoutes } from "../../../src/rpc/status-list-http.js";
import { buildServer } from "../../../src/rpc/server.js";
import { fixedKey, testDid } from "../../helpers/fixtures.js";

const ISSUER = testDid(fixedKey(5));
const ID = ISSUER.did.slice("did:sid:".length);

function record(listId: string, ttl?: number): StatusListRecord {
  const uri = statusListUri(DEFAULT_STATUS_LIST_BASE_URI, ISSUER.did, listId);
  const token = signStatusListToken(ISSUER.keyId, buildStatusListPayload({ issuer: ISSUER.did, uri, iat: 1_800_000_000, packed: newStatusList(131_072), ...(ttl !== undefined ? { ttl } : {}) }), ISSUER.key.secretKey);
  return { kind: "statuslist", issuer: ISSUER.did, listId, uri, types: ["KYCBasic"], size: 131_072, token, iat: 1_800_000_000, height: 5, time: 1, createdHeight: 5 };
}

describe("rpc/status-list-http", () => {
  let app: FastifyInstance;
  const lists = new Map<string, StatusListRecord>([
    ["a", record("a", 900)],
    ["b", record("b")],
  ]);
  let asked: Array<[string, string]> = [];

  before(async () => {
    app = buildServer({}, {}, (a) =>
      registerStatusListRoutes(a, {
        getStatusList: async (issuer, listId) => {
          asked.push([issuer, listId]);
          return issuer === ISSUER.did ? lists.get(listId) : undefined;
        },
      }),
    );
    await app.ready();
  });
  after(() => app.close());
  beforeEach(() => (asked = []));

  it("serves the token as published, with a strong ETag (sha256 of it) and max-age from ttl, or the default", async () => {
    const a = await app.inject({ method: "GET", url: `/status-lists/${ID}/a` });
    expect(a.statusCode).to.equal(200);
    expect(a.headers["content-type"]).to.match(/^application\/statuslist\+jwt/);
    expect(a.body).to.equal(lists.get("a")!.token);
    expect(a.headers.etag).to.equal(`"${createHash("sha256").update(lists.get("a")!.token).digest("hex")}"`);
    expect(a.headers["cache-control"]).to.equal("max-age=900");
    expect(asked).to.deep.equal([[ISSUER.did, "a"]]);
    const b = await app.inject({ method: "GET", url: `/status-lists/${ID}/b` });
    expect(b.headers["cache-control"]).to.equal(`max-age=${DEFAULT_MAX_AGE_SECONDS}`);
    expect(b.headers.etag).to.not.equal(a.headers.etag);
  });

  it("answers 304 without a body when If-None-Match names the ETag (in a list, weak, or *), 200 otherwise", async () => {
    const etag = (await app.inject({ method: "GET", url: `/status-lists/${ID}/a` })).headers.etag as string;
    for (const inm of [etag, `W/${etag}`, `"x", ${etag}`, "*"]) {
      const r = await app.inject({ method: "GET", url: `/status-lists/${ID}/a`, headers: { "if-none-match": inm } });
      expect(r.statusCode, inm).to.equal(304);
      expect(r.body).to.equal("");
      expect(r.headers.etag).to.equal(etag);
    }
    const other = await app.inject({ method: "GET", url: `/status-lists/${ID}/a`, headers: { "if-none-match": '"abc"' } });
    expect(other.statusCode).to.equal(200);
  });

  it("404 for an unknown list or issuer; 400 for a malformed issuer id or list id, before any lookup", async () => {
    const missing = await app.inject({ method: "GET", url: `/status-lists/${ID}/zzz` });
    expect(missing.statusCode).to.equal(404);
    expect(missing.json().error).to.equal("notFound");
    const otherIssuer = testDid(fixedKey(6)).did.slice(8);
    expect((await app.inject({ method: "GET", url: `/status-lists/${otherIssuer}/a` })).statusCode).to.equal(404);
    asked = [];
    expect((await app.inject({ method: "GET", url: `/status-lists/0OIl/a` })).json().error).to.equal("invalidIssuer");
    expect((await app.inject({ method: "GET", url: `/status-lists/${ID}/a.b` })).json().error).to.equal("invalidListId");
    expect((await app.inject({ method: "GET", url: `/status-lists/${ID}/${"a".repeat(65)}` })).statusCode).to.equal(400);
    expect(asked).to.deep.equal([]);
  });
});
