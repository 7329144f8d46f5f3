// Replays a recorded contract (test/contracts/recordings/<server>/<scenario>.json) against a fake
// and compares every answer with the recording: status, Content-Type and the meaningful
// headers, and the whole body (JSON field by field, XML element by element, text verbatim).
// Volatile values the recorder replaced by placeholders (<token>, <timestamp>, <etag>...)
// match anything of the right type; random ids (Matrix room/event ids) are bound at their
// first sighting and must then stay the same, and are substituted into later requests.
//
// API:
//   loadContract(file)                       → Contract
//   replayContract(contract, options)        → ExchangeResult[] (one per exchange)
//   mismatches(results)                      → string[] (empty when everything matched)
//   compareResponse(expected, actual, opts)  → string[] (differences of one answer)
//   basicAuth(user, password)                → "Basic …" header value
//   parseXml(text)                           → XmlElement (namespace-resolved; also used by the Nextcloud fake)
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";

export interface RecordedRequest {
  method: string;
  /** Path with the query string, exactly as sent. */
  path: string;
  headers?: Record<string, string>;
  body?: string | null;
}

export interface RecordedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpExchange {
  note?: string;
  request: RecordedRequest;
  response: RecordedResponse;
}

/** occ-config.json records shell commands, not HTTP. */
export interface CommandExchange {
  command: string;
  exit: number;
  stdout: string;
  stderr?: string;
}

export interface Contract {
  scenario: string;
  server: string;
  recorded: string;
  description: string;
  exchanges: (HttpExchange | CommandExchange)[];
}

export interface ActualResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
}

export const isHttpExchange = (e: HttpExchange | CommandExchange): e is HttpExchange => "request" in e;

export function loadContract(file: string): Contract {
  return JSON.parse(readFileSync(file, "utf8")) as Contract;
}

export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

// ---------------------------------------------------------------------------------------
// Matching

/** The recorder's placeholders (contracts README), and the JSON type of the value each replaced. */
export const PLACEHOLDERS: Record<string, "string" | "number"> = {
  nonce: "string",
  mac: "string",
  token: "string",
  device_id: "string",
  timestamp: "number",
  age: "number",
  etag: "string",
  date: "string", // d:getlastmodified, recorded as &lt;date&gt;
  "admin-password": "string",
  datadir: "string", // Nextcloud's data directory in storageLocation
  bytes: "number", // Nextcloud's quota free/used/total/relative (the disk's, not the test's)
};

/** Headers the recorder kept when present: absent from a recording means absent from the answer. */
const MEANINGFUL_HEADERS = ["location", "content-location", "retry-after", "www-authenticate", "x-sabre-status", "etag", "oc-etag", "allow"];

export interface MatchOptions {
  /** Patterns of random ids (no anchors, no flags needed), e.g. /![A-Za-z]{18}:localhost/. */
  volatile?: RegExp[];
  /** The recorded server's origin (e.g. http://127.0.0.1:8080), replaced by `actualOrigin` in expected values. */
  recordedOrigin?: string;
  actualOrigin?: string;
  /** Recorded volatile value → the fake's value; filled as ids are first seen. */
  bindings?: Map<string, string>;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const placeholderPattern = () => new RegExp(`<(${Object.keys(PLACEHOLDERS).map(escapeRegExp).join("|")})>`, "g");

interface Piece {
  kind: "text" | "placeholder" | "volatile";
  text: string;
  pattern?: RegExp;
}

/** Splits an expected string into literal text, placeholders and volatile ids. */
function pieces(expected: string, options: MatchOptions): Piece[] {
  const marks: { start: number; end: number; piece: Piece }[] = [];
  for (const m of expected.matchAll(placeholderPattern())) {
    marks.push({ start: m.index, end: m.index + m[0].length, piece: { kind: "placeholder", text: m[0] } });
  }
  for (const pattern of options.volatile ?? []) {
    for (const m of expected.matchAll(new RegExp(pattern.source, "g"))) {
      if (m[0] === "" || marks.some((x) => m.index < x.end && m.index + m[0].length > x.start)) continue;
      marks.push({ start: m.index, end: m.index + m[0].length, piece: { kind: "volatile", text: m[0], pattern } });
    }
  }
  marks.sort((a, b) => a.start - b.start);
  const result: Piece[] = [];
  let at = 0;
  for (const mark of marks) {
    if (mark.start > at) result.push({ kind: "text", text: expected.slice(at, mark.start) });
    result.push(mark.piece);
    at = mark.end;
  }
  if (at < expected.length) result.push({ kind: "text", text: expected.slice(at) });
  return result;
}

/** Does `actual` match the recorded string? Binds first-seen volatile ids on success. */
export function matchString(expected: string, actual: string, options: MatchOptions): boolean {
  const recorded = options.recordedOrigin && options.actualOrigin ? expected.split(options.recordedOrigin).join(options.actualOrigin) : expected;
  const bindings = options.bindings ?? new Map<string, string>();
  const parts = pieces(recorded, options);
  const fresh: string[] = [];
  let source = "";
  for (const part of parts) {
    if (part.kind === "text") source += escapeRegExp(part.text);
    else if (part.kind === "placeholder") source += "([\\s\\S]+?)";
    else if (bindings.has(part.text)) source += escapeRegExp(bindings.get(part.text)!);
    else {
      source += `(?<v${fresh.length}>${part.pattern!.source})`;
      fresh.push(part.text);
    }
  }
  const m = new RegExp(`^${source}$`).exec(actual);
  if (!m) return false;
  const seen = new Map<string, string>();
  for (const [i, recordedId] of fresh.entries()) {
    const value = m.groups![`v${i}`]!;
    // The same recorded id twice in one string must be the same actual id.
    if (seen.has(recordedId) && seen.get(recordedId) !== value) return false;
    seen.set(recordedId, value);
  }
  for (const [recordedId, value] of seen) bindings.set(recordedId, value);
  return true;
}

const show = (v: unknown) => JSON.stringify(v);

function compareJson(expected: unknown, actual: unknown, path: string, options: MatchOptions, diffs: string[]): void {
  if (typeof expected === "string") {
    const whole = /^<([^<>]+)>$/.exec(expected);
    const type = whole ? PLACEHOLDERS[whole[1]!] : undefined;
    if (type) {
      if (typeof actual !== type || actual === "") diffs.push(`${path}: expected a ${type} (${expected}), got ${show(actual)}`);
      return;
    }
    if (typeof actual !== "string" || !matchString(expected, actual, options)) diffs.push(`${path}: expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  if (expected === null || typeof expected !== "object") {
    if (expected !== actual) diffs.push(`${path}: expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      diffs.push(`${path}: expected an array, got ${show(actual)}`);
      return;
    }
    if (expected.length !== actual.length) diffs.push(`${path}: expected ${expected.length} items, got ${actual.length}`);
    for (let i = 0; i < Math.min(expected.length, actual.length); i++) compareJson(expected[i], actual[i], `${path}[${i}]`, options, diffs);
    return;
  }
  if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
    diffs.push(`${path}: expected an object, got ${show(actual)}`);
    return;
  }
  const exp = expected as Record<string, unknown>;
  const act = actual as Record<string, unknown>;
  for (const key of Object.keys(exp)) {
    if (!(key in act)) diffs.push(`${path}.${key}: missing`);
    else compareJson(exp[key], act[key], `${path}.${key}`, options, diffs);
  }
  for (const key of Object.keys(act)) if (!(key in exp)) diffs.push(`${path}.${key}: unexpected (${show(act[key])})`);
}

// ---------------------------------------------------------------------------------------
// XML

export interface XmlElement {
  /** Namespace URI ("" when none). */
  ns: string;
  local: string;
  /** The name as written, for messages. */
  qname: string;
  /** Attributes by "{ns}local" (or "local" without a prefix); xmlns declarations left out. */
  attributes: Record<string, string>;
  children: (XmlElement | string)[];
  /** Written `<x/>` rather than `<x></x>` (OCS tells null from "" this way). */
  selfClosing: boolean;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

const decodeEntities = (text: string) =>
  text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith("#x")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });

/** A small namespace-aware XML parser (elements, attributes, text, CDATA, comments). */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const fail = (message: string): never => {
    throw new Error(`invalid XML: ${message} at offset ${i}`);
  };
  /** Moves past the next `marker`. */
  const skipPast = (marker: string) => {
    const end = text.indexOf(marker, i);
    if (end < 0) fail(`missing ${marker}`);
    i = end + marker.length;
  };
  const skipMisc = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (text.startsWith("<?", i)) skipPast("?>");
      else if (text.startsWith("<!--", i)) skipPast("-->");
      else if (text.startsWith("<!", i)) fail("DTDs are not supported");
      else return;
    }
  };
  const name = () => {
    const m = /^[^\s/>=]+/.exec(text.slice(i, i + 200));
    if (!m) fail("expected a name");
    i += m![0].length;
    return m![0];
  };
  const resolve = (qname: string, scope: Map<string, string>, isAttribute: boolean) => {
    const colon = qname.indexOf(":");
    const prefix = colon < 0 ? "" : qname.slice(0, colon);
    const local = colon < 0 ? qname : qname.slice(colon + 1);
    if (prefix === "" && isAttribute) return { ns: "", local };
    const ns = scope.get(prefix);
    if (ns === undefined && prefix !== "") fail(`undeclared prefix ${prefix}`);
    return { ns: ns ?? "", local };
  };
  const element = (outer: Map<string, string>): XmlElement => {
    if (text[i] !== "<") fail("expected <");
    i++;
    const qname = name();
    const raw: [string, string][] = [];
    let selfClosing = false;
    for (;;) {
      while (/\s/.test(text[i] ?? "")) i++;
      if (text.startsWith("/>", i)) {
        selfClosing = true;
        i += 2;
        break;
      }
      if (text[i] === ">") {
        i++;
        break;
      }
      if (i >= text.length) fail("unterminated tag");
      const attr = name();
      while (/\s/.test(text[i] ?? "")) i++;
      if (text[i] !== "=") fail("expected =");
      i++;
      while (/\s/.test(text[i] ?? "")) i++;
      const quote = text[i];
      if (quote !== '"' && quote !== "'") fail("expected a quoted value");
      const end = text.indexOf(quote!, i + 1);
      if (end < 0) fail("unterminated attribute");
      raw.push([attr, decodeEntities(text.slice(i + 1, end))]);
      i = end + 1;
    }
    const scope = new Map(outer);
    for (const [attr, value] of raw) {
      if (attr === "xmlns") scope.set("", value);
      else if (attr.startsWith("xmlns:")) scope.set(attr.slice(6), value);
    }
    const { ns, local } = resolve(qname, scope, false);
    const attributes: Record<string, string> = {};
    for (const [attr, value] of raw) {
      if (attr === "xmlns" || attr.startsWith("xmlns:")) continue;
      const a = resolve(attr, scope, true);
      attributes[a.ns ? `{${a.ns}}${a.local}` : a.local] = value;
    }
    const node: XmlElement = { ns, local, qname, attributes, children: [], selfClosing };
    if (selfClosing) return node;
    const pushText = (t: string) => {
      const last = node.children[node.children.length - 1];
      if (typeof last === "string") node.children[node.children.length - 1] = last + t;
      else node.children.push(t);
    };
    for (;;) {
      if (i >= text.length) fail(`unclosed <${qname}>`);
      if (text.startsWith("</", i)) {
        i += 2;
        if (name() !== qname) fail(`mismatched </…> for <${qname}>`);
        while (/\s/.test(text[i] ?? "")) i++;
        if (text[i] !== ">") fail("expected >");
        i++;
        return node;
      }
      if (text.startsWith("<!--", i)) {
        skipPast("-->");
      } else if (text.startsWith("<![CDATA[", i)) {
        const end = text.indexOf("]]>", i);
        if (end < 0) fail("unterminated CDATA");
        pushText(text.slice(i + 9, end));
        i = end + 3;
      } else if (text[i] === "<") {
        node.children.push(element(scope));
      } else {
        const end = text.indexOf("<", i);
        pushText(decodeEntities(text.slice(i, end < 0 ? text.length : end)));
        i = end < 0 ? text.length : end;
      }
    }
  };
  skipMisc();
  const root = element(new Map([["xml", "http://www.w3.org/XML/1998/namespace"]]));
  skipMisc();
  if (i < text.length) fail("content after the root element");
  return root;
}

const textOf = (e: XmlElement) => e.children.filter((c): c is string => typeof c === "string").join("");
const elementsOf = (e: XmlElement) => e.children.filter((c): c is XmlElement => typeof c !== "string");
const expandedName = (e: XmlElement) => (e.ns ? `{${e.ns}}${e.local}` : e.local);

function compareXml(expected: XmlElement, actual: XmlElement, path: string, options: MatchOptions, diffs: string[]): void {
  if (expandedName(expected) !== expandedName(actual)) {
    diffs.push(`${path}: expected element ${expandedName(expected)}, got ${expandedName(actual)}`);
    return;
  }
  const expAttrs = Object.keys(expected.attributes);
  for (const key of expAttrs) {
    const value = actual.attributes[key];
    if (value === undefined) diffs.push(`${path}/@${key}: missing`);
    else if (!matchString(expected.attributes[key]!, value, options)) diffs.push(`${path}/@${key}: expected ${show(expected.attributes[key])}, got ${show(value)}`);
  }
  for (const key of Object.keys(actual.attributes)) if (!expAttrs.includes(key)) diffs.push(`${path}/@${key}: unexpected`);
  const expKids = elementsOf(expected);
  const actKids = elementsOf(actual);
  const expText = textOf(expected);
  const actText = textOf(actual);
  if (expKids.length === 0 && actKids.length === 0) {
    if (!matchString(expText, actText, options)) diffs.push(`${path}: expected text ${show(expText)}, got ${show(actText)}`);
    else if (expText === "" && expected.selfClosing !== actual.selfClosing) {
      diffs.push(`${path}: expected ${expected.selfClosing ? "<x/>" : "<x></x>"}, got ${actual.selfClosing ? "<x/>" : "<x></x>"}`);
    }
    return;
  }
  // Between child elements only non-blank text counts (indentation differs freely).
  if (!matchString(expText.trim(), actText.trim(), options)) diffs.push(`${path}: expected text ${show(expText.trim())}, got ${show(actText.trim())}`);
  if (expKids.length !== actKids.length) {
    diffs.push(`${path}: expected ${expKids.length} child elements (${expKids.map((k) => k.qname).join(", ")}), got ${actKids.length} (${actKids.map((k) => k.qname).join(", ")})`);
  }
  const counts = new Map<string, number>();
  for (let n = 0; n < Math.min(expKids.length, actKids.length); n++) {
    const kid = expKids[n]!;
    const index = (counts.get(kid.qname) ?? 0) + 1;
    counts.set(kid.qname, index);
    compareXml(kid, actKids[n]!, `${path}/${kid.qname}[${index}]`, options, diffs);
  }
}

/** Placeholders are not XML: turn `<datadir>` into text before parsing the recording. */
const protectPlaceholders = (xml: string) => xml.replace(placeholderPattern(), (m) => m.replace("<", "&lt;").replace(">", "&gt;"));

// ---------------------------------------------------------------------------------------
// Comparing one answer

const TRUNCATED = /\.\.\.<truncated: \d+ bytes in total>$/;

function compareBody(expected: RecordedResponse, actual: ActualResponse, options: MatchOptions, diffs: string[]): void {
  const recorded = expected.body ?? "";
  const contentType = (expected.headers?.["Content-Type"] ?? "").toLowerCase();
  if (TRUNCATED.test(recorded)) {
    const prefix = recorded.replace(TRUNCATED, "");
    if (!actual.body.startsWith(prefix)) diffs.push(`body: does not start with the recorded (truncated) body`);
    return;
  }
  if (recorded === "" || actual.body === "") {
    if (recorded !== actual.body) diffs.push(`body: expected ${show(recorded.slice(0, 200))}, got ${show(actual.body.slice(0, 200))}`);
    return;
  }
  if (contentType.includes("json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(actual.body);
    } catch {
      diffs.push(`body: not JSON: ${show(actual.body.slice(0, 200))}`);
      return;
    }
    compareJson(JSON.parse(recorded), parsed, "body", options, diffs);
    return;
  }
  if (contentType.includes("xml")) {
    let parsed: XmlElement;
    try {
      parsed = parseXml(actual.body);
    } catch (error) {
      diffs.push(`body: ${(error as Error).message}: ${show(actual.body.slice(0, 200))}`);
      return;
    }
    const root = parseXml(protectPlaceholders(recorded));
    compareXml(root, parsed, `body:/${root.qname}`, options, diffs);
    return;
  }
  if (!matchString(recorded, actual.body, options)) diffs.push(`body: expected ${show(recorded.slice(0, 300))}, got ${show(actual.body.slice(0, 300))}`);
}

/** Every difference between a recorded answer and an actual one (empty when they match). */
export function compareResponse(expected: RecordedResponse, actual: ActualResponse, options: MatchOptions = {}): string[] {
  const diffs: string[] = [];
  if (expected.status !== actual.status) diffs.push(`status: expected ${expected.status}, got ${actual.status}`);
  const recordedHeaders = Object.entries(expected.headers ?? {});
  for (const [name, value] of recordedHeaders) {
    const got = actual.headers[name.toLowerCase()];
    if (got === undefined) diffs.push(`header ${name}: missing (expected ${show(value)})`);
    else if (!matchString(value, got, options)) diffs.push(`header ${name}: expected ${show(value)}, got ${show(got)}`);
  }
  const recordedNames = new Set(recordedHeaders.map(([name]) => name.toLowerCase()));
  for (const name of MEANINGFUL_HEADERS) {
    if (!recordedNames.has(name) && actual.headers[name] !== undefined) diffs.push(`header ${name}: unexpected (${show(actual.headers[name])})`);
  }
  compareBody(expected, actual, options, diffs);
  return diffs;
}

// ---------------------------------------------------------------------------------------
// Replaying

export interface ReplayOptions {
  /** The fake's origin, e.g. http://127.0.0.1:40123. */
  baseUrl: string;
  /**
   * Text replaced in every request (path, header values, body) before it is sent, e.g.
   * {"Basic <admin>": basicAuth("admin", "pw"), "Bearer <bob_token>": "Bearer …"}.
   * Mutable: `after` may add tokens a response handed out.
   */
  substitutions?: Record<string, string>;
  /** Random ids: bound at first sight in a response, then required and substituted (raw and %-encoded). */
  volatile?: RegExp[];
  /** The recorded server's origin, mapped to baseUrl in expected values (absolute URLs in bodies). */
  recordedOrigin?: string;
  /** Exchanges not replayed, by index, each with the reason (reported, never silent). */
  skip?: Record<number, string>;
  /** Called before an exchange is sent (e.g. to arm a fault that reproduces a recorded failure). */
  before?: (index: number, exchange: HttpExchange) => void | Promise<void>;
  /** Called with each actual answer (e.g. to learn a token for later requests). */
  after?: (index: number, exchange: HttpExchange, actual: ActualResponse) => void | Promise<void>;
  timeoutMs?: number;
}

export interface ExchangeResult {
  index: number;
  /** "METHOD path" as recorded. */
  request: string;
  note: string;
  /** Why it was not replayed. */
  skipped?: string;
  differences: string[];
}

function send(baseUrl: string, req: RecordedRequest, timeoutMs: number): Promise<ActualResponse> {
  const url = new URL(req.path, baseUrl);
  const body = req.body ?? undefined;
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const r = httpRequest(url, { method: req.method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
        resolve({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    r.on("timeout", () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on("error", reject);
    r.end(body);
  });
}

/** Percent-encodes all but RFC 3986's unreserved characters (recorders write `!` as %21). */
const encodeStrict = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const replaceAll = (text: string, from: string, to: string) => text.split(from).join(to);

function substitute(text: string, substitutions: Record<string, string>, bindings: Map<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(substitutions)) out = replaceAll(out, from, to);
  for (const [from, to] of bindings) {
    out = replaceAll(replaceAll(replaceAll(out, from, to), encodeStrict(from), encodeStrict(to)), encodeURIComponent(from), encodeURIComponent(to));
  }
  return out;
}

/** Sends each exchange of the contract in order and compares the answers. */
export async function replayContract(contract: Contract, options: ReplayOptions): Promise<ExchangeResult[]> {
  const bindings = new Map<string, string>();
  const substitutions = options.substitutions ?? {};
  const match: MatchOptions = {
    volatile: options.volatile,
    recordedOrigin: options.recordedOrigin,
    actualOrigin: new URL(options.baseUrl).origin,
    bindings,
  };
  const results: ExchangeResult[] = [];
  for (const [index, exchange] of contract.exchanges.entries()) {
    if (!isHttpExchange(exchange)) throw new Error(`${contract.scenario}: exchange ${index} is a command, not HTTP`);
    const recorded = exchange.request;
    const result: ExchangeResult = { index, request: `${recorded.method} ${recorded.path}`, note: exchange.note ?? "", differences: [] };
    results.push(result);
    const reason = options.skip?.[index];
    if (reason !== undefined) {
      result.skipped = reason;
      continue;
    }
    await options.before?.(index, exchange);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(recorded.headers ?? {})) headers[k] = substitute(v, substitutions, bindings);
    const request: RecordedRequest = {
      method: recorded.method,
      path: substitute(recorded.path, substitutions, bindings),
      headers,
      body: recorded.body === null || recorded.body === undefined ? null : substitute(recorded.body, substitutions, bindings),
    };
    let actual: ActualResponse;
    try {
      actual = await send(options.baseUrl, request, options.timeoutMs ?? 10_000);
    } catch (error) {
      result.differences.push(`request failed: ${(error as Error).message}`);
      continue;
    }
    result.differences = compareResponse(exchange.response, actual, match);
    await options.after?.(index, exchange, actual);
  }
  return results;
}

/** One line per difference, naming the exchange; empty when the whole replay matched. */
export function mismatches(results: ExchangeResult[]): string[] {
  return results.flatMap((r) => r.differences.map((d) => `#${r.index} ${r.request}${r.note ? ` (${r.note})` : ""}: ${d}`));
}
