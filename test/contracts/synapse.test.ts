// The Synapse fake answers as the recorded Synapse 1.163.2 does: every exchange of
// test/contracts/recordings/synapse-1.163 (made by scripts/record-synapse.ts against the
// real server running Bastide's homeserver.yaml) is replayed, in the recorded order, against one fresh
// fake (state carries over between files, as it did when they were recorded), and each
// answer is compared with the recording by test/fakes/replay.ts.
import test from "ava";
import { join } from "node:path";
import {
  compareResponse,
  loadContract,
  mismatches,
  replayContract,
  type ActualResponse,
  type Contract,
  type HttpExchange,
} from "../fakes/replay.ts";
import { createFakeSynapse, type FakeSynapse } from "../fakes/synapse.ts";

const CONTRACTS = join(import.meta.dirname, "recordings/synapse-1.163");
/** The recorder's order: later files use users and tokens made by earlier ones. */
const SCENARIOS = ["register-shared-secret", "admin-users", "login", "rooms", "errors"];
/** The server name of Bastide's example association, which the recorded server ran. */
const SERVER = "matrix.jardins-canal.localhost";
const SECRET = "fake-registration-secret";
/** Room version 12 (Synapse 1.163's default): room ids and event ids are 43 url-safe base64 characters, no server name. */
const VOLATILE = [/![A-Za-z0-9_-]{43}/, /\$[A-Za-z0-9_-]{43}/];
const ROOM_ID = /^![A-Za-z0-9_-]{43}$/;
/** rc_login.address: per_second 0.003, burst 5 (synapse/config/ratelimiting.py) → one more login every 1/0.003 s. */
const RATE_LIMIT_WINDOW_MS = Math.ceil(1000 / 0.003);
/** How far a replayed wait may be from the recorded one: the time the recording spent between its first login and the refused ones. */
const RECORDING_PACE_MS = 30_000;

const show = (v: unknown) => JSON.stringify(v);

/**
 * retry_after_ms counts down in real time (5445, 5443, 5441 ms in the recording): it is
 * compared as a number here, and separately checked against the recorded value.
 */
function withTimingAsNumber(contract: Contract): { contract: Contract; retryAfter: Map<number, number> } {
  const retryAfter = new Map<number, number>();
  const exchanges = contract.exchanges.map((e, index) => {
    const ex = e as HttpExchange;
    const body = ex.response.body ?? "";
    const m = /"retry_after_ms": (\d+)/.exec(body);
    if (!m) return ex;
    retryAfter.set(index, Number(m[1]));
    const headers = ex.response.headers?.["Retry-After"] ? { ...ex.response.headers, "Retry-After": "<age>" } : ex.response.headers;
    return { ...ex, response: { ...ex.response, headers, body: body.replace(m[0], '"retry_after_ms": "<age>"') } };
  });
  return { contract: { ...contract, exchanges }, retryAfter };
}

/** Keys in the recorded order: the recorder kept Synapse's key order, so the fake must too. */
function keyOrderDifferences(expected: unknown, actual: unknown, path: string): string[] {
  if (!expected || !actual || typeof expected !== "object" || typeof actual !== "object") return [];
  if (Array.isArray(expected))
    return Array.isArray(actual) ? expected.flatMap((e, i) => keyOrderDifferences(e, actual[i], `${path}[${i}]`)) : [];
  const exp = Object.keys(expected);
  const act = Object.keys(actual).filter((k) => exp.includes(k));
  const here = exp.filter((k) => act.includes(k)).join(",") === act.join(",") ? [] : [`${path}: keys in order ${show(act)}, recorded ${show(exp)}`];
  return [...here, ...exp.flatMap((k) => keyOrderDifferences((expected as any)[k], (actual as any)[k], `${path}.${k}`))];
}

/** Recorded room ids in paths are %-encoded as `%21…%3A…`, a form the helper's substitution does not produce. */
function learnEncodedRoomIds(expected: unknown, actual: unknown, substitutions: Record<string, string>): void {
  if (typeof expected === "string" && typeof actual === "string" && ROOM_ID.test(expected)) {
    const encode = (id: string) => `%21${encodeURIComponent(id.slice(1))}`;
    substitutions[encode(expected)] ??= encode(actual);
  } else if (expected && actual && typeof expected === "object" && typeof actual === "object") {
    for (const key of Object.keys(expected)) learnEncodedRoomIds((expected as any)[key], (actual as any)[key], substitutions);
  }
}

const parseJson = (text: string | undefined) => {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
};

interface Session {
  fake: FakeSynapse;
  substitutions: Record<string, string>;
  nonces: string[];
}

/** Replays one scenario; returns every difference, the helper's and this file's extra checks. */
async function replay(session: Session, scenario: string): Promise<string[]> {
  const { fake, substitutions, nonces } = session;
  const { contract, retryAfter } = withTimingAsNumber(loadContract(join(CONTRACTS, `${scenario}.json`)));
  const extra: string[] = [];
  const results = await replayContract(contract, {
    baseUrl: fake.url,
    substitutions,
    volatile: VOLATILE,
    before(_index, exchange) {
      const body = parseJson(exchange.request.body ?? undefined);
      if (!exchange.request.path.endsWith("/_synapse/admin/v1/register") || exchange.request.method !== "POST" || !body?.nonce) return;
      // The recording only shows <nonce> and <mac>; its notes say which nonce and which MAC were sent.
      const nonce = exchange.note?.includes("reuse the first") ? nonces[0]! : nonces[nonces.length - 1]!;
      substitutions["<nonce>"] = nonce;
      substitutions["<mac>"] =
        exchange.note === "bad mac" ? "0".repeat(40) : fake.registrationMac(nonce, body.username, body.password, Boolean(body.admin), body.user_type);
    },
    after(index, exchange, actual: ActualResponse) {
      const got = parseJson(actual.body);
      const recorded = parseJson(exchange.response.body);
      if (got?.nonce) nonces.push(got.nonce);
      if (typeof got?.access_token === "string" && typeof got.user_id === "string") {
        const localpart = got.user_id.slice(1).split(":")[0];
        substitutions[`Bearer <${localpart}_token>`] ??= `Bearer ${got.access_token}`;
      }
      learnEncodedRoomIds(recorded, got, substitutions);
      extra.push(...keyOrderDifferences(recorded, got, "body").map((d) => `#${index} ${exchange.request.method} ${exchange.request.path}: ${d}`));
      const recordedWait = retryAfter.get(index);
      if (recordedWait !== undefined) {
        const wait = got?.retry_after_ms;
        // The recorder's Synapse took ~15 s to get through the logins before this one; the fake takes none.
        if (!Number.isInteger(wait) || wait <= 0 || wait > RATE_LIMIT_WINDOW_MS || Math.abs(wait - recordedWait) > RECORDING_PACE_MS)
          extra.push(`#${index}: retry_after_ms ${wait} is not within ${RECORDING_PACE_MS / 1000} s of the recorded ${recordedWait} (window ${RATE_LIMIT_WINDOW_MS} ms)`);
      }
    },
  });
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length > 0) extra.push(`skipped exchanges: ${skipped.map((r) => r.index).join(", ")}`);
  if (results.length !== contract.exchanges.length) extra.push(`replayed ${results.length} of ${contract.exchanges.length} exchanges`);
  return [...mismatches(results), ...extra];
}

async function freshSession(): Promise<Session> {
  const fake = await createFakeSynapse({ serverName: SERVER, registrationSharedSecret: SECRET });
  return { fake, substitutions: { "Bearer <invalid token>": "Bearer syt_bm90aGluZw_NotARealTokenAtAll_000000" }, nonces: [] };
}

test.serial("every recorded Synapse 1.163 exchange, in order, is answered as recorded", async (t) => {
  const session = await freshSession();
  try {
    // Every file is replayed before judging, so that one report lists every difference.
    const differences: string[] = [];
    for (const scenario of SCENARIOS) differences.push(...(await replay(session, scenario)).map((d) => `${scenario}.json ${d}`));
    t.deepEqual(differences, []);
  } finally {
    await session.fake.server.stop();
  }
});

test.serial("the replay catches a fake that answers differently (status, errcode, headers, fields, ids)", async (t) => {
  const session = await freshSession();
  try {
    for (const scenario of ["register-shared-secret", "admin-users", "login"]) await replay(session, scenario);
    // The fake turns one alias conflict into a 404: exactly that exchange must be reported.
    session.fake.server.inject({
      match: (r) => r.method === "PUT" && r.path.includes(`/directory/room/${encodeURIComponent(`#team:${SERVER}`)}`),
      times: 2,
      response: { status: 404, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ errcode: "M_NOT_FOUND", error: `Room alias #team:${SERVER} not found` }) },
    });
    const differences = await replay(session, "rooms");
    t.true(differences.some((d) => /create alias.*status: expected 200, got 404/.test(d)), differences.join("\n"));
    t.true(differences.some((d) => /alias already taken.*status: expected 409, got 404/.test(d)));
    t.true(differences.some((d) => /errcode: expected "M_UNKNOWN", got "M_NOT_FOUND"/.test(d)));
  } finally {
    await session.fake.server.stop();
  }

  const recorded = {
    status: 429,
    headers: { "Content-Type": "application/json" },
    body: '{\n  "errcode": "M_LIMIT_EXCEEDED",\n  "error": "Too Many Requests",\n  "retry_after_ms": "<age>"\n}',
  };
  const answer = (body: unknown, headers: Record<string, string> = {}, status = 429): ActualResponse => ({
    status,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const good = { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: 5000 };
  t.deepEqual(compareResponse(recorded, answer(good)), []);
  t.not(compareResponse(recorded, answer(good, { "retry-after": "5" })).length, 0, "a Retry-After header the recording does not have");
  t.not(compareResponse(recorded, answer({ ...good, retry_after_ms: "5000" })).length, 0, "a string where a number was");
  t.not(compareResponse(recorded, answer({ ...good, error: "Too many requests" })).length, 0, "another message");
  t.not(compareResponse(recorded, answer({ ...good, soft_logout: false })).length, 0, "an extra field");
  t.not(compareResponse(recorded, answer(good, { "content-type": "text/plain" })).length, 0, "another content type");
  t.not(compareResponse(recorded, answer(good, {}, 403)).length, 0, "another status");
  t.not(keyOrderDifferences(good, { error: "x", errcode: "y", retry_after_ms: 1 }, "body").length, 0, "keys out of order");

  // A room id seen once must stay the same for the rest of the file.
  const bindings = new Map<string, string>();
  const joined = { status: 200, headers: { "Content-Type": "application/json" }, body: '{\n  "room_id": "!KL440rsXKxnBGornnjm69d6aYuchVX0oOeyDxm81GII"\n}' };
  t.deepEqual(compareResponse(joined, answer({ room_id: "!abcdefghijklmnopqrstuvwxyz0123456789_-ABCDE" }, {}, 200), { volatile: VOLATILE, bindings }), []);
  t.deepEqual(compareResponse(joined, answer({ room_id: "!abcdefghijklmnopqrstuvwxyz0123456789_-ABCDE" }, {}, 200), { volatile: VOLATILE, bindings }), []);
  t.not(compareResponse(joined, answer({ room_id: "!ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ" }, {}, 200), { volatile: VOLATILE, bindings }).length, 0);
});
