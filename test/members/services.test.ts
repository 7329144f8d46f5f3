// The ids the import folds, taken by the real services: Bastide's Matrix provisioner creates
// the 40 members of the French fixture and a room per team on a real Synapse (the pinned
// release, Bastide's homeserver.yaml), and Debian's Prosody creates an account for each id,
// as the Jitsi provisioner does (prosodyctl adduser). Nextcloud, which no registry here
// carries, is the fake that holds logins to the rules of Nextcloud 34.0.1's user manager and
// replays the project's recordings (test/fakes/nextcloud.ts).
import test from "ava";
import { readFileSync } from "node:fs";
import { desiredState, matrixUserId } from "../../provisioners/desired.ts";
import { createAccount, listAccounts, unusablePassword } from "../../provisioners/jitsi/accounts.ts";
import { createMatrixClient, matrixProvisioner } from "../../provisioners/matrix/index.ts";
import { createNextcloudClient, nextcloudProvisioner } from "../../provisioners/nextcloud/index.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/reserved-names.ts";
import { createFakeNextcloud } from "../fakes/nextcloud.ts";
import { converge } from "../../provisioners/model.ts";
import { parseAssociation } from "../../stacks/config/load.ts";
import { applyImport, associationDocument, validatedText } from "../../stacks/config/members/document.ts";
import { importOptions, planImport } from "../../stacks/config/members/merge.ts";
import { decodeUtf8, readCsv } from "../../stacks/config/members/sheet.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { startLocalProsody } from "../support/prosody.ts";
import { startSynapse, stopPostgres } from "../support/synapse.ts";

const SHEET = new URL("../fixtures/members/association-40.csv", import.meta.url).pathname;

/** The example with the fixture's 40 members and their teams, imported as the command does. */
function imported(): Association {
  const yaml = readFileSync(EXAMPLE_FILE, "utf8");
  const sheet = readCsv(decodeUtf8(readFileSync(SHEET), SHEET), SHEET);
  const plan = planImport(sheet, parseAssociation(yaml, "example"), importOptions("fr"));
  const doc = associationDocument(yaml);
  applyImport(doc, plan, true);
  return parseAssociation(validatedText(yaml, doc, plan, sheet, "example").text, "imported");
}

test.after.always(() => stopPostgres());

test("a real Synapse takes every imported member id as a localpart and every team id as a room alias", async (t) => {
  const config = imported();
  const desired = { ...desiredState(config), departures: { disable: [], erase: [], enable: [] } };
  const synapse = await startSynapse({ config });
  try {
    const bot = createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: synapse.registrationSharedSecret, serverName: synapse.serverName });
    try {
      const result = await converge(matrixProvisioner, desired, bot, { concurrency: 4 });
      t.deepEqual(result.failed.map((f) => `${f.change.subject}: ${f.error.message}`), []);
    } finally {
      await bot.close();
    }
    const admin = (await synapse.register("inspector", unusablePassword(), { admin: true })).accessToken;
    for (const member of config.members) {
      const answer = await synapse.call(admin, "GET", `/_synapse/admin/v2/users/${encodeURIComponent(matrixUserId(member.id, synapse.serverName))}`);
      t.is(answer.status, 200, member.id);
      t.is(answer.json.displayname, member.name, member.id);
    }
    t.true(desired.matrix!.rooms.some((room) => room.alias.includes("communication-reseaux")));
    for (const room of desired.matrix!.rooms) {
      const answer = await synapse.call(admin, "GET", `/_matrix/client/v3/directory/room/${encodeURIComponent(`#${room.alias}:${synapse.serverName}`)}`);
      t.is(answer.status, 200, room.alias);
    }
    t.is(config.members.length, 40);
  } finally {
    await synapse.stop();
  }
});

test("a real Prosody takes every imported member id as an account", async (t) => {
  const config = imported();
  const domain = "meet.jitsi";
  const server = await startLocalProsody(domain);
  try {
    const client = { commands: server.commands };
    for (const member of config.members) t.is(await createAccount(client, member.id, domain, unusablePassword()), "created", member.id);
    t.deepEqual(await listAccounts(client, domain), config.members.map((m) => m.id).sort());
  } finally {
    await server.stop();
  }
});

test("the recorded Nextcloud rules take every imported member id as a login and every team id as a group", async (t) => {
  const config = imported();
  const desired = { ...desiredState(config), departures: { disable: [], erase: [], enable: [] } };
  const password = unusablePassword();
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: password }, admins: [NEXTCLOUD_ADMIN_USER] });
  try {
    const client = createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password });
    const result = await converge(nextcloudProvisioner, desired, client, { concurrency: 3 });
    t.deepEqual(result.failed.map((f) => `${f.change.subject}: ${f.error.message}`), []);
    const users = new Map(nc.users().map((u) => [u.id, u]));
    for (const member of config.members) t.is(users.get(member.id)?.displayName, member.name, member.id);
    const groups = new Set(nc.groups().map((g) => g.id));
    for (const team of config.teams) t.true(groups.has(team.id), team.id);
  } finally {
    await nc.stop();
  }
});
