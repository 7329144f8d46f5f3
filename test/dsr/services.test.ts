// Data-subject requests against the services' test doubles: the fake Nextcloud 32 and the
// fake Synapse 1.163 (both checked against recordings of the real servers), and Debian's
// real Prosody. The stack is first provisioned by the provisioners themselves, so the
// export and the erasure meet what `pulumi up` leaves.
//
// The fake Synapse does not serve the admin calls for devices, room messages and media:
// the first export shows those parts failing, as they would on a Synapse without them;
// the next test answers them, through the fake's fault injection, with the bodies Synapse's
// admin API documentation gives (docs/admin_api/user_admin_api.md, rooms.md,
// media_admin_api.md): not recordings.
import test from "ava";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Association } from "../../stacks/config/schema.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { XMPP } from "../../stacks/services/jitsi/blueprint.ts";
import { desiredState, MATRIX_BOT, matrixUserId, type DesiredState } from "../../provisioners/desired.ts";
import { converge } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { createNextcloudClient, nextcloudProvisioner } from "../../provisioners/nextcloud/index.ts";
import { calendarsProvisioner, createCalDavClient } from "../../provisioners/calendars/index.ts";
import { botPassword, createMatrixClient, matrixProvisioner, type MatrixClient } from "../../provisioners/matrix/index.ts";
import { jitsiProvisioner, listAccounts, type JitsiClient } from "../../provisioners/jitsi/index.ts";
import { eraseMember, exportMember } from "../../policies/dsr/request.ts";
import { DsrRefusal, type DsrRecord, type DsrStep } from "../../policies/dsr/model.ts";
import type { DsrTargets } from "../../policies/dsr/targets.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { createFakeSynapse, type FakeSynapse } from "../fakes/synapse.ts";
import type { FakeRequest } from "../fakes/fake-server.ts";
import { exampleAssociation } from "../support/association.ts";
import { startLocalProsody, type LocalProsody } from "../support/prosody.ts";
import { requireProgram } from "../support/programs.ts";

const NC_PASSWORD = "fake-service-account-password-01";
const SHARED_SECRET = "fakeRegistrationSecret-dsr-0001";
const MEMBER = "karim.benali";
const noWait = async () => {};

// The VPN and the polls run in containers: test/dsr/docker.test.ts covers them. Without the
// identity provider, so that hosts hold the Prosody account whose export and erasure are tested
// here (with it, Prosody keeps nothing of theirs: stacks/services/jitsi/login.ts).
const config: Association = exampleAssociation((input) => {
  input.services.identity = { enabled: false };
  input.services.vpn = { enabled: false };
  input.services.polls = { enabled: false };
  for (const member of input.members) delete member.devices;
});
const withoutMember = (member: string): Association => ({ ...config, members: config.members.filter((m) => m.id !== member) });
const DESIRED: DesiredState = { ...desiredState(config), departures: { disable: [], erase: [], enable: [] } };
const SERVER_NAME = DESIRED.matrix!.serverName;
const MEMBER_MXID = matrixUserId(MEMBER, SERVER_NAME);
const MEMBER_EMAIL = config.members.find((m) => m.id === MEMBER)!.email;

interface Stack {
  nc: FakeNextcloud;
  synapse: FakeSynapse;
  prosody: LocalProsody;
  matrix: MatrixClient;
  jitsiCounter: CallCounter;
  targets: DsrTargets;
  spaceId: string;
  out: string;
  stop(): Promise<void>;
}

const ics = (uid: string, summary: string, attendee?: string) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Bastide tests//EN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20261120T090000Z",
    "DTSTART:20261201T170000Z",
    "DTEND:20261201T180000Z",
    `SUMMARY:${summary}`,
    // Folded, with a colon inside a quoted parameter: the matching must see through both.
    ...(attendee ? [`ATTENDEE;CN="Benali: Karim";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:${attendee.slice(0, 6)}`, ` ${attendee.slice(6)}`] : []),
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

/** A provisioned stack: accounts, groups, calendars, space and rooms, Jitsi accounts. */
async function provisionedStack(): Promise<Stack> {
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: NC_PASSWORD } });
  const synapse = await createFakeSynapse({ serverName: SERVER_NAME, registrationSharedSecret: SHARED_SECRET });
  const prosody = await startLocalProsody(XMPP.domain);
  const credentials = { baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: NC_PASSWORD, sleep: noWait };
  const ncClient = createNextcloudClient(credentials);
  const calendars = createCalDavClient(credentials);
  const matrix = createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: SHARED_SECRET, serverName: SERVER_NAME, sleep: noWait });
  const jitsiCounter = new CallCounter();
  const jitsi: JitsiClient = { commands: prosody.commands, counter: jitsiCounter };
  const stop = async () => {
    await matrix.close().catch(() => undefined);
    await Promise.all([nc.stop(), synapse.server.stop(), prosody.stop()]);
  };
  try {
    for (const [provisioner, client] of [
      [nextcloudProvisioner, ncClient],
      [calendarsProvisioner, calendars],
      [matrixProvisioner, matrix],
      [jitsiProvisioner, jitsi],
    ] as const) {
      const result = await converge(provisioner as never, DESIRED, client as never, { concurrency: 2 });
      if (result.failed.length > 0) throw new Error(`provisioning failed: ${result.failed.map((f) => f.error.message).join("; ")}`);
    }
    // An event of the association's calendar with the member as attendee, and one without.
    const put = (uri: string, name: string, body: string) =>
      calendars.http.request("PUT", `remote.php/dav/calendars/${NEXTCLOUD_ADMIN_USER}/${uri}/${name}`, { body, headers: { "Content-Type": "text/calendar; charset=utf-8" } });
    for (const response of [
      await put("team-evenements", "fete.ics", ics("fete-2026", "Fête des jardins", MEMBER_EMAIL.toUpperCase())),
      await put("team-evenements", "compost.ics", ics("compost-2026", "Atelier compost")),
    ]) {
      if (response.status !== 201) throw new Error(`seeding an event: HTTP ${response.status}`);
    }
    // The member signs in once and joins the space (rooms they were invited to).
    await matrix.adminJson("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(MEMBER_MXID)}`, { password: "member-password-for-the-test" });
    const login = await fetch(`${synapse.url}/_matrix/client/v3/login`, {
      method: "POST",
      body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: MEMBER }, password: "member-password-for-the-test" }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const spaceId = synapse.roomIdFor(`#${DESIRED.matrix!.space.alias}:${SERVER_NAME}`)!;
    const joined = await fetch(`${synapse.url}/_matrix/client/v3/rooms/${encodeURIComponent(spaceId)}/join`, { method: "POST", headers: { Authorization: `Bearer ${access_token}` }, body: "{}" });
    if (joined.status !== 200) throw new Error(`join: HTTP ${joined.status}`);
    const out = mkdtempSync(join(tmpdir(), "bastide-dsr-"));
    const targets: DsrTargets = {
      nextcloud: { client: ncClient, calendars, dataDirectory: "/var/www/html/data" },
      matrix: { client: matrix, media: { baseUrl: synapse.url } },
      jitsi,
    };
    return { nc, synapse, prosody, matrix, jitsiCounter, targets, spaceId, out, stop: async () => (await stop(), rmSync(out, { recursive: true, force: true })) };
  } catch (error) {
    await stop();
    throw error;
  }
}

const stepOf = (record: DsrRecord, service: string, part: string): DsrStep | undefined => record.steps.find((s) => s.service === service && s.part === part);
const SECRETS = [NC_PASSWORD, SHARED_SECRET, botPassword(SHARED_SECRET, matrixUserId(MATRIX_BOT, SERVER_NAME))];

/** Every folder and file under `root`, with its permission bits. */
function modes(root: string): { path: string; dir: boolean; mode: number }[] {
  return readdirSync(root, { recursive: true, withFileTypes: true }).map((entry) => {
    const path = join(entry.parentPath, entry.name);
    return { path, dir: entry.isDirectory(), mode: statSync(path).mode & 0o777 };
  });
}

test.serial("export: each service's part lands in the folder and the .tar.gz, 0700/0600, with a dated record in French that holds no secret", async (t) => {
  const stack = await provisionedStack();
  try {
    const times = [new Date("2026-11-21T10:00:00Z").getTime()];
    const clock = () => new Date((times[0]! += 1000));
    const { record, folder, archive, text } = await exportMember({ config, member: MEMBER, targets: stack.targets, out: stack.out, secrets: SECRETS, clock });

    t.deepEqual(record.services, ["nextcloud", "matrix", "jitsi"]);
    t.is(record.identity.email, MEMBER_EMAIL);
    t.is(folder, join(stack.out, `${MEMBER}-2026-11-21T100001Z`));

    // Nextcloud: the account as OCS gives it, and the association's event that names them.
    const account = JSON.parse(readFileSync(join(folder!, "nextcloud/account.json"), "utf8"));
    t.is(account.id, MEMBER);
    t.deepEqual([...account.groups].sort(), ["association", "bureau", "evenements"]);
    t.is(stepOf(record, "nextcloud", "shared-calendars")?.count, 1);
    t.regex(readFileSync(join(folder!, "nextcloud/calendars/association/team-evenements/fete.ics"), "utf8"), /Fête des jardins/);
    // Own calendars and files need the app container (docker.test.ts): said, not hidden.
    t.is(stepOf(record, "nextcloud", "files")?.outcome, "skipped");

    // Matrix: the account and the rooms they are in come from the fake; the rest is not served by it.
    t.is(JSON.parse(readFileSync(join(folder!, "matrix/account.json"), "utf8")).name, MEMBER_MXID);
    const rooms = JSON.parse(readFileSync(join(folder!, "matrix/rooms.json"), "utf8")) as { room_id: string }[];
    t.true(rooms.some((r) => r.room_id === stack.spaceId));
    for (const part of ["devices", "messages", "media"]) {
      const step = stepOf(record, "matrix", part);
      t.is(step?.outcome, "failed", part);
      t.regex(step?.error ?? "", /M_UNRECOGNIZED/);
    }
    t.false(record.complete, "an export with failed parts says it is incomplete");

    // Jitsi: the account, found on the real Prosody.
    t.is(JSON.parse(readFileSync(join(folder!, "jitsi/account.json"), "utf8")).account, `${MEMBER}@${XMPP.domain}`);

    // The record: every step stamped in order, within the request; the text in the association's language.
    const stamps = record.steps.map((s) => Date.parse(s.at));
    t.deepEqual(stamps, [...stamps].sort((a, b) => a - b));
    t.true(stamps.every((s) => s > Date.parse(record.startedAt) && s < Date.parse(record.finishedAt)));
    t.regex(text, /^Demande d'accès et de portabilité/);
    t.regex(text, /INCOMPLET/);
    t.is(readFileSync(join(folder!, "record.txt"), "utf8"), text);
    const written = readFileSync(join(folder!, "record.json"), "utf8") + text;
    for (const secret of SECRETS) t.false(written.includes(secret), "no credential in the record");

    // Personal data: 0700 folders, 0600 files, the archive too, and the archive holds them all.
    for (const entry of modes(folder!)) t.is(entry.mode, entry.dir ? 0o700 : 0o600, entry.path);
    t.is(statSync(archive!.file).mode & 0o777, 0o600);
    const tar = requireProgram("tar", "tar");
    const listing = spawnSync(tar, ["-tvzf", archive!.file], { encoding: "utf8" }).stdout;
    for (const file of ["record.json", "record.txt", "nextcloud/account.json", "matrix/rooms.json", "jitsi/account.json"]) t.regex(listing, new RegExp(`-rw------- .* ${MEMBER}-2026-11-21T100001Z/${file.replace(".", "\\.")}\\n`));
  } finally {
    await stack.stop();
  }
});

/** Synapse's documented answers, for the admin calls the fake does not serve. */
function answerUndocumentedByTheFake(synapse: FakeSynapse, media: Buffer): void {
  const json = (body: unknown) => ({ status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const userPath = `/_synapse/admin/v2/users/${encodeURIComponent(MEMBER_MXID)}`;
  const on = (match: (r: FakeRequest) => boolean, response: { status: number; headers: Record<string, string>; body: string }, times = 100) => synapse.server.inject({ match, times, response });
  on((r) => r.url.pathname === `${userPath}/devices`, json({ devices: [{ device_id: "PHONE1", display_name: "Element Android", last_seen_ip: "192.0.2.7", last_seen_ts: 1763700000000, user_id: MEMBER_MXID }], total: 1 }));
  const event = (id: string, body: string) => ({ type: "m.room.message", event_id: id, room_id: "!x", sender: MEMBER_MXID, origin_server_ts: 1763700000000, content: { msgtype: "m.text", body } });
  // Two pages, newest first (dir=b), then an empty one.
  on((r) => r.url.pathname.endsWith("/messages") && !r.url.searchParams.has("from"), json({ chunk: [event("$2", "second")], start: "t2", end: "t1" }));
  on((r) => r.url.pathname.endsWith("/messages") && r.url.searchParams.get("from") === "t1", json({ chunk: [event("$1", "first")], start: "t1", end: "t0" }));
  on((r) => r.url.pathname.endsWith("/messages") && r.url.searchParams.get("from") === "t0", json({ chunk: [], start: "t0" }));
  on((r) => r.url.pathname === `/_synapse/admin/v1/users/${encodeURIComponent(MEMBER_MXID)}/media`, json({ media: [{ media_id: "ABCdef123", media_type: "image/png", media_length: media.length, upload_name: "plan.png", created_ts: 1763700000000 }], total: 1 }));
}

/** Synapse's media repository for the download: bytes, which the fake's string bodies cannot carry. */
async function mediaRepository(files: Record<string, Buffer>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    // Authenticated media: no token, no bytes (Synapse 1.163.2, synapse/rest/client/media.py DownloadResource requires auth).
    if (!req.headers.authorization?.startsWith("Bearer ")) return void res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ errcode: "M_MISSING_TOKEN", error: "Missing access token" }));
    const body = files[req.url ?? ""];
    if (!body) return void res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ errcode: "M_NOT_FOUND", error: "Not found" }));
    res.writeHead(200, { "Content-Type": "image/png", "Content-Length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test.serial("export: with Synapse's documented answers for devices, messages and media, the export is complete and media bytes are exact", async (t) => {
  const stack = await provisionedStack();
  try {
    // Not valid UTF-8: proves media are copied as bytes.
    const media = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0xc3]);
    answerUndocumentedByTheFake(stack.synapse, media);
    const repository = await mediaRepository({ [`/_matrix/client/v1/media/download/${SERVER_NAME}/ABCdef123`]: media });
    const targets = { ...stack.targets, matrix: { ...stack.targets.matrix!, media: { baseUrl: repository.url } } };
    const { record, folder } = await exportMember({ config, member: MEMBER, targets, out: stack.out, secrets: SECRETS }).finally(() => repository.close());
    t.deepEqual(record.steps.filter((s) => s.outcome === "failed"), []);
    t.true(record.complete);
    t.is(stepOf(record, "matrix", "devices")?.count, 1);
    const messages = readdirSync(join(folder!, "matrix/messages"));
    t.true(messages.length >= 1);
    const first = JSON.parse(readFileSync(join(folder!, "matrix/messages", messages[0]!), "utf8"));
    t.deepEqual(first.events.map((e: { content: { body: string } }) => e.content.body), ["first", "second"], "oldest first, across pages");
    t.deepEqual(readFileSync(join(folder!, "matrix/media/ABCdef123")), media);
  } finally {
    await stack.stop();
  }
});

test.serial("erasure: refused while the config lists the member; planned without --confirm; then done, and a second run changes nothing", async (t) => {
  const stack = await provisionedStack();
  try {
    const roomId = stack.synapse.roomIdFor(`#evenements:${SERVER_NAME}`)!;
    t.true(stack.synapse.members(roomId, "invite").includes(MEMBER_MXID) || stack.synapse.members(roomId, "join").includes(MEMBER_MXID));
    const base = { member: MEMBER, targets: stack.targets, out: stack.out, secrets: SECRETS };
    // Uploaded media: none (Synapse's documented answer), so the media step has nothing to delete.
    stack.synapse.server.inject({
      match: (r) => r.url.pathname.endsWith(`/users/${encodeURIComponent(MEMBER_MXID)}/media`),
      times: 100,
      response: { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ media: [], total: 0 }) },
    });

    const ncWrites = () => stack.nc.server.writes();
    const deactivations = () => stack.synapse.server.log.filter((l) => l.method === "POST" && l.path.includes("/deactivate/")).length;
    const before = { nc: ncWrites(), synapse: deactivations(), jitsi: stack.jitsiCounter.writes("jitsi") };

    const refusal = await t.throwsAsync(() => eraseMember({ ...base, config, confirm: true }), { instanceOf: DsrRefusal });
    t.regex(refusal!.message, /still listed .* --force/s);
    t.deepEqual(readdirSync(stack.out), [], "a refusal writes nothing");

    const gone = withoutMember(MEMBER);
    const dryRun = await eraseMember({ ...base, config: gone, confirm: false });
    t.deepEqual(
      dryRun.record.steps.filter((s) => s.outcome === "planned").map((s) => `${s.service} ${s.part}`),
      ["nextcloud user.delete", "matrix user.erase", "jitsi account.delete"],
    );
    t.is(dryRun.folder, undefined);
    t.deepEqual({ nc: ncWrites(), synapse: deactivations(), jitsi: stack.jitsiCounter.writes("jitsi") }, before, "a dry run changes nothing");
    t.truthy(stack.nc.user(MEMBER));

    const done = await eraseMember({ ...base, config: gone, confirm: true });
    t.true(done.record.complete, JSON.stringify(done.record.steps.filter((s) => s.outcome === "failed")));
    t.deepEqual(
      done.record.steps.filter((s) => s.outcome === "done").map((s) => `${s.service} ${s.part}`),
      ["nextcloud user.delete", "matrix user.erase", "jitsi account.delete"],
    );
    t.is(stack.nc.user(MEMBER), undefined);
    t.is(stack.nc.calendars(MEMBER).length, 0);
    const erased = stack.synapse.user(MEMBER_MXID)!;
    t.true(erased.deactivated && erased.erased);
    t.false((await listAccounts({ commands: stack.prosody.commands }, XMPP.domain)).includes(MEMBER));
    // The association's event that names them is the association's: kept, and flagged for review.
    t.is(stepOf(done.record, "nextcloud", "shared-calendars")?.outcome, "skipped");

    // The proof of erasure: dated, the member's id, neither their name nor their address, no secret.
    const json = readFileSync(join(done.folder!, "record.json"), "utf8");
    const record = JSON.parse(json) as DsrRecord;
    t.is(record.kind, "erasure");
    t.is(record.member, MEMBER);
    t.deepEqual(record.identity, { sources: ["nextcloud"] });
    t.false(json.includes(MEMBER_EMAIL));
    for (const secret of SECRETS) t.false(json.includes(secret));
    t.regex(readFileSync(join(done.folder!, "record.txt"), "utf8"), /^Demande d'effacement/);
    for (const entry of modes(done.folder!)) t.is(entry.mode, entry.dir ? 0o700 : 0o600, entry.path);

    const after = { nc: ncWrites(), synapse: deactivations(), jitsi: stack.jitsiCounter.writes("jitsi") };
    const again = await eraseMember({ ...base, config: gone, confirm: true });
    t.true(again.record.complete);
    t.deepEqual(again.record.steps.filter((s) => s.outcome === "done"), [], "nothing left to erase");
    t.deepEqual({ nc: ncWrites(), synapse: deactivations(), jitsi: stack.jitsiCounter.writes("jitsi") }, after, "the second erasure writes nothing");
  } finally {
    await stack.stop();
  }
});
