// The parts of a data-subject request that need no service: parsing what the servers
// print, the VPN file edit (with the real awk and wg-quick), the folder's modes and bounds,
// the record's text and its guard against secrets, the refusals, and the commands' usage.
import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { wireguardPrivateKey } from "../../stacks/services/vpn/keys.ts";
import { peerKeyPair } from "../../provisioners/vpn/keys.ts";
import { serverConfWithPeers } from "../../provisioners/vpn/server.ts";
import { RequestFolder, TooLarge, tarGz } from "../../policies/dsr/archive.ts";
import { assertNoSecret, safeName, type DsrRecord } from "../../policies/dsr/model.ts";
import { namesAttendee, ownedCalendarUris } from "../../policies/dsr/nextcloud.ts";
import { parseBatch, sqlString } from "../../policies/dsr/polls.ts";
import { eraseMember, erasureDesired } from "../../policies/dsr/request.ts";
import { recordText } from "../../policies/dsr/text.ts";
import { DROP_MEMBER_AWK, PEER_SECTIONS_AWK, parsePeerSections, parseWgField } from "../../policies/dsr/vpn.ts";
import { DsrRefusal } from "../../policies/dsr/model.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram } from "../support/programs.ts";

const scratchDir = () => mkdtempSync(join(tmpdir(), "bastide-dsr-core-"));

// --- VPN: the file, read and edited by the real awk -------------------------------------------

const peer = (member: string, device: string, address: string) => {
  const id = `${member}-${device}`;
  return { member, device, id, address, publicKey: peerKeyPair(`seed-${id}`.padEnd(64, "x")).publicKey };
};
const PEERS = [peer("karim", "laptop", "10.13.13.2"), peer("karim.benali", "laptop", "10.13.13.3"), peer("karim.benali", "phone", "10.13.13.4"), peer("lea", "tablet", "10.13.13.5")];
const SERVER_KEY = wireguardPrivateKey("server-seed".padEnd(64, "s"));
const CONF = serverConfWithPeers({ subnet: "10.13.13.0/24", port: 51820, privateKey: SERVER_KEY, peers: PEERS });

/** Debian's awk (mawk), and BusyBox's, which the WireGuard image runs: both must agree. */
const AWKS = { mawk: () => [requireProgram("awk", "mawk")], busybox: () => [requireProgram("busybox", "busybox"), "awk"] };

function awk(program: string, file: string, member?: string, which: keyof typeof AWKS = "mawk"): string {
  const [command, ...first] = AWKS[which]();
  const result = spawnSync(command!, [...first, ...(member ? ["-v", `m=${member}`] : []), program, file], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

test("vpn: only the peer sections are read, never the [Interface] with the server's key", (t) => {
  const dir = scratchDir();
  try {
    writeFileSync(join(dir, "wg0.conf"), CONF);
    const sections = awk(PEER_SECTIONS_AWK, join(dir, "wg0.conf"));
    t.false(sections.includes(SERVER_KEY));
    t.deepEqual(
      parsePeerSections(sections).map((p) => [p.name, p.publicKey, p.allowedIps]),
      PEERS.map((p) => [`${p.member} ${p.device}`, p.publicKey, [`${p.address}/32`]]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vpn: erasing a member drops exactly their sections, not those of a member whose id starts the same; wg-quick still reads the file; BusyBox awk agrees", (t) => {
  const dir = scratchDir();
  try {
    const file = join(dir, "wg0.conf");
    writeFileSync(file, CONF);
    const edited = awk(DROP_MEMBER_AWK, file, "karim");
    t.deepEqual(parsePeerSections(edited).map((p) => p.name), ["karim.benali laptop", "karim.benali phone", "lea tablet"]);
    writeFileSync(file, awk(DROP_MEMBER_AWK, file, "karim.benali"));
    const left = readFileSync(file, "utf8");
    t.deepEqual(parsePeerSections(left).map((p) => p.name), ["karim laptop", "lea tablet"]);
    // Everything else is kept as it was: the interface, its key and its firewall rules.
    t.is(left.slice(0, left.indexOf("[Peer]")), CONF.slice(0, CONF.indexOf("[Peer]")));
    const strip = spawnSync(requireProgram("wg-quick", "wireguard-tools"), ["strip", file], { encoding: "utf8" });
    t.is(strip.status, 0, strip.stderr);
    t.is((strip.stdout.match(/\[Peer\]/g) ?? []).length, 2);
    t.is(awk(DROP_MEMBER_AWK, file, "nobody"), left, "a member without devices changes nothing");
    writeFileSync(file, CONF);
    for (const member of ["karim", "karim.benali"]) t.is(awk(DROP_MEMBER_AWK, file, member, "busybox"), awk(DROP_MEMBER_AWK, file, member), `busybox awk, ${member}`);
    t.is(awk(PEER_SECTIONS_AWK, file, undefined, "busybox"), awk(PEER_SECTIONS_AWK, file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vpn: `wg show` fields are read by public key", (t) => {
  const endpoints = parseWgField(`${PEERS[0]!.publicKey}\t192.0.2.7:51820\n${PEERS[1]!.publicKey}\t(none)\n`);
  t.deepEqual(endpoints.get(PEERS[0]!.publicKey), ["192.0.2.7:51820"]);
  t.deepEqual(endpoints.get(PEERS[1]!.publicKey), ["(none)"]);
  t.deepEqual(parseWgField(`${PEERS[0]!.publicKey}\t1024\t2048\n`).get(PEERS[0]!.publicKey), ["1024", "2048"]);
});

// --- what the servers print ------------------------------------------------------------------

test("nextcloud: occ's calendar table gives the calendars the member owns; none when it has none", (t) => {
  const table = [
    "+----------+----------+---------------------------+---------------------+----------+",
    "| uri      | displayname | owner's userid         | owner's displayname | writable |",
    "+----------+----------+---------------------------+---------------------+----------+",
    "| personal | Personal | principals/users/lea       | Léa Moreau          |  ✓       |",
    "| team-bureau_shared_by__bastide | Bureau | principals/users/_bastide | Bastide | x |",
    "+----------+----------+---------------------------+---------------------+----------+",
  ].join("\n");
  t.deepEqual(ownedCalendarUris(table, "lea"), ["personal"]);
  t.deepEqual(ownedCalendarUris(table, "le"), []);
  t.deepEqual(ownedCalendarUris("User <lea> has no calendars\n", "lea"), []);
});

test("nextcloud: an event names the member only as organiser or attendee, by their exact address", (t) => {
  const event = (line: string) => `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\n${line}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  t.true(namesAttendee(event("ORGANIZER;CN=Léa:mailto:Lea@Example.org"), "lea@example.org"));
  t.false(namesAttendee(event("ATTENDEE:mailto:lea@example.org.evil"), "lea@example.org"));
  t.false(namesAttendee(event("DESCRIPTION:write to mailto:lea@example.org"), "lea@example.org"));
  t.false(namesAttendee(event('ATTENDEE;CN="mailto:lea@example.org":mailto:tom@example.org'), "lea@example.org"), "a quoted parameter is not the value");
});

test("polls: mariadb's batch output, escapes and NULL; values go in as hex literals", (t) => {
  t.deepEqual(parseBatch("id\tname\tcomment\n1\tLéa\ta\\tb\\nc\\\\d\n2\tNULL\t\n"), [
    { id: "1", name: "Léa", comment: "a\tb\nc\\d" },
    { id: "2", name: null, comment: "" },
  ]);
  t.deepEqual(parseBatch(""), [], "an empty result prints nothing at all");
  t.is(sqlString("O'Brien\\"), "_utf8mb4 X'4f27427269656e5c'");
});

// --- the folder, the archive, the record -------------------------------------------------------

test("folder: 0700/0600, never outside itself, never over an earlier request; a stream past its bound leaves nothing", async (t) => {
  const dir = scratchDir();
  try {
    const folder = RequestFolder.create(dir, "lea-2026-11-21T100000Z");
    t.is(RequestFolder.create(dir, "lea-2026-11-21T100000Z").root, join(dir, "lea-2026-11-21T100000Z-2"));
    const file = folder.write("matrix/account.json", "{}\n");
    t.deepEqual(file, { path: "matrix/account.json", bytes: 3, sha256: "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356" });
    t.is(statSync(join(folder.root, "matrix")).mode & 0o777, 0o700);
    t.is(statSync(join(folder.root, "matrix/account.json")).mode & 0o777, 0o600);
    t.throws(() => folder.write("../escape.json", "x"), { message: /refusing to write outside/ });
    t.throws(() => folder.write("matrix/account.json", "again"), { code: "EEXIST" });
    t.is(safeName("../../etc/passwd"), "__.._etc_passwd");
    await t.throwsAsync(folder.writeStream("nextcloud/files.tar", Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000), { instanceOf: TooLarge });
    t.false(readdirSync(join(folder.root, "nextcloud")).includes("files.tar"));
    const ok = await folder.writeStream("nextcloud/small.tar", Readable.from([Buffer.from("abc")]), 1000);
    t.is(ok.bytes, 3);
    const archive = await tarGz(folder.root);
    t.is(statSync(archive.file).mode & 0o777, 0o600);
    const listing = spawnSync(requireProgram("tar", "tar"), ["-tvzf", archive.file], { encoding: "utf8" }).stdout;
    t.regex(listing, /-rw------- .* lea-2026-11-21T100000Z\/matrix\/account\.json/);
    t.regex(listing, /drwx------ .* lea-2026-11-21T100000Z\/matrix\//);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("record: a secret the request used stops the write", (t) => {
  t.throws(() => assertNoSecret('{"token":"s3cr3t-value-123"}', ["s3cr3t-value-123"], "record.json"), { message: /record.json would contain one of the credentials/ });
  t.notThrows(() => assertNoSecret("nothing here", ["s3cr3t-value-123"], "record.json"));
});

const RECORD: DsrRecord = {
  format: "bastide-dsr/1",
  kind: "erasure",
  member: "lea.moreau",
  organisation: "Les Jardins",
  startedAt: "2026-11-21T10:00:00.000Z",
  finishedAt: "2026-11-21T10:00:05.000Z",
  identity: { sources: ["config"] },
  services: ["nextcloud", "vpn"],
  steps: [
    { service: "nextcloud", part: "user.delete", outcome: "planned", at: "2026-11-21T10:00:01.000Z", summary: { fr: "à faire : user lea.moreau", en: "to do: user lea.moreau" } },
    { service: "vpn", part: "peer.remove", outcome: "none", at: "2026-11-21T10:00:02.000Z", summary: { fr: "aucun appareil", en: "no device" }, count: 0 },
  ],
  notes: [{ service: "vpn", text: { fr: "Les clés privées restent sur les appareils.", en: "Private keys stay on the devices." } }],
  complete: true,
};

test("record text: in the association's language, a dry run says nothing changed", (t) => {
  const fr = recordText(RECORD, "fr");
  t.regex(fr, /^Demande d'effacement \(RGPD art\. 17\)\n/);
  t.regex(fr, /Résultat : simulation : rien n'a été modifié/);
  t.regex(fr, /\n {2}- \[prévu\] à faire : user lea\.moreau \(2026-11-21T10:00:01\.000Z\)\n/);
  t.regex(fr, /VPN \(WireGuard\) : Les clés privées restent sur les appareils\./);
  const en = recordText({ ...RECORD, steps: [{ ...RECORD.steps[0]!, outcome: "failed", error: "HTTP 500" }], complete: false }, "en");
  t.regex(en, /^Erasure request \(GDPR art\. 17\)\n/);
  t.regex(en, /Result: INCOMPLETE/);
  t.regex(en, /\[FAILED\] to do: user lea\.moreau .*\n {6}error: HTTP 500\n/);
});

// --- refusals and the erasure's desired state ------------------------------------------------

test("erasure: the provisioners see the config without the member, and them as the one erasure", (t) => {
  const desired = erasureDesired(exampleAssociation(), "lea.moreau");
  t.deepEqual(desired.departures, { disable: [], erase: ["lea.moreau"], enable: [] });
  t.false(desired.nextcloud!.users.some((u) => u.id === "lea.moreau"));
  t.true(desired.nextcloud!.users.some((u) => u.id === "tom.martin"));
});

test("erasure: --force erases a listed member but warns that `pulumi up` would bring them back; a dry run writes nothing", async (t) => {
  const out = scratchDir();
  try {
    const config = exampleAssociation();
    await t.throwsAsync(eraseMember({ config, member: "lea.moreau", targets: {}, out, secrets: [], confirm: true }), { instanceOf: DsrRefusal });
    const result = await eraseMember({ config, member: "lea.moreau", targets: {}, out, secrets: [], confirm: false, force: true });
    t.true(result.record.notes.some((n) => n.service === "all" && /next `pulumi up`/.test(n.text.en)));
    // No connection was given: every enabled service says so, and the request is incomplete.
    t.deepEqual(result.record.steps.map((s) => `${s.service} ${s.outcome}`), ["nextcloud failed", "matrix failed", "jitsi failed", "vpn failed", "polls failed"]);
    t.false(result.record.complete);
    t.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// --- the commands ------------------------------------------------------------------------------

const node = new URL("../../node_modules/.bin/node", import.meta.url).pathname;
/** Runs a command as npm would, without blocking the other tests. */
function cli(script: string, args: string[], input = ""): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, ["--import", "tsx", new URL(`../../policies/dsr/${script}`, import.meta.url).pathname, ...args], {
      cwd: new URL("../..", import.meta.url).pathname,
      stdio: ["pipe", "ignore", "pipe"],
      timeout: 60_000,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
    child.stdin.end(input);
  });
}

test("commands: usage errors and a refused erasure exit 2 before any connection; bad stack outputs are named", async (t) => {
  const [usage, notAnId, refused, garbage] = await Promise.all([
    cli("cli-export.ts", []),
    cli("cli-erase.ts", ["../etc", "examples/association.yaml", "--confirm"]),
    cli("cli-erase.ts", ["lea.moreau", "examples/association.yaml", "--confirm"]),
    cli("cli-export.ts", ["lea.moreau", "examples/association.yaml", "--outputs", "-"], "not json"),
  ]);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /usage: npm run export-member -- <member id>/);
  t.is(notAnId.status, 2, "not a member id");
  t.is(refused.status, 2);
  t.regex(refused.stderr, /lea\.moreau is still listed under members: in the config/);
  t.is(garbage.status, 1);
  t.regex(garbage.stderr, /the stack outputs are not JSON/);
});
