// Matrix's part of a request, as the bot (a Synapse admin).
//
// Export, through Synapse's admin API (docs/admin_api/user_admin_api.md, rooms.md and
// media_admin_api.md; synapse/rest/admin/*.py in 1.163.2), checked against the real
// server by test/provisioners/matrix-synapse.test.ts:
// - the account: GET /_synapse/admin/v2/users/<id> (recorded: admin-users.json);
// - devices: GET /_synapse/admin/v2/users/<id>/devices (not recorded);
// - rooms they are in: GET /_synapse/admin/v1/rooms, then /rooms/<id>/members;
// - their messages, in every room of the server (also those they left):
//   GET /_synapse/admin/v1/rooms/<id>/messages?dir=b&filter={"senders":[id]}, paged by
//   `end` (Synapse 1.163.2, synapse/rest/admin/rooms.py RoomMessagesRestServlet, which
//   reads with the admin's privilege whether or not the bot is in the room); in encrypted
//   rooms these are ciphertext, which only the members' devices can read;
// - media they uploaded: GET /_synapse/admin/v1/users/<id>/media, each file from the
//   authenticated media API, GET /_matrix/client/v1/media/download/<server>/<media id>
//   with the bot's token (Synapse 1.163.2, synapse/rest/client/media.py DownloadResource),
//   bounded in count and size. The legacy /_matrix/media/r0|v3/download refuses media
//   uploaded since authenticated media became the default (enable_authenticated_media,
//   true since 1.120: synapse/config/repository.py), which is all of them on a new server.
//
// Erasure: the Matrix provisioner's own `user.erase` (deactivation with erase: true),
// then DELETE /_synapse/admin/v1/users/<id>/media, since Synapse's erasure leaves uploaded
// media in place (1.163.2: synapse/handlers/deactivate_account.py never touches media).
import { matrixUserId } from "../../provisioners/desired.ts";
import { converge } from "../../provisioners/model.ts";
import { matrixProvisioner } from "../../provisioners/matrix/index.ts";
import type { MatrixClient } from "../../provisioners/matrix/client.ts";
import { formatBytes, TooLarge } from "./archive.ts";
import { only, part, recordConverge, type EraseContext, type ExportContext } from "./context.ts";
import { safeName, t, type DsrFile } from "./model.ts";
import type { MatrixTarget } from "./targets.ts";

const SERVICE = "matrix" as const;
const PAGE = 100;
/** Pages of rooms or media at most: far beyond an association's server. */
const MAX_PAGES = 1000;

const enc = encodeURIComponent;
const userPath = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}`;

/** A 2xx JSON answer, or an error naming the call and Synapse's errcode. */
async function adminGet(client: MatrixClient, path: string): Promise<any> {
  const response = await client.admin("GET", path);
  if (response.status >= 200 && response.status < 300) return response.json;
  const errcode = response.json?.errcode;
  const hint = errcode === "M_UNRECOGNIZED" ? " (this Synapse does not offer this admin call)" : "";
  throw new Error(`GET ${path.split("?")[0]}: HTTP ${response.status} ${errcode ?? ""} ${response.json?.error ?? ""}${hint}`.replace(/\s+/g, " ").trim());
}

/** The account as the admin API shows it; undefined when there is none. */
export async function matrixAccount(client: MatrixClient, userId: string): Promise<Record<string, unknown> | undefined> {
  const response = await client.admin("GET", userPath(userId));
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${userPath(userId)}: HTTP ${response.status} ${response.json?.errcode ?? ""}`.trim());
  return response.json;
}

export interface RoomSummary {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
}

/** Every room of the server (admin room list, paged by next_batch). */
export async function allRooms(client: MatrixClient): Promise<RoomSummary[]> {
  const rooms: RoomSummary[] = [];
  let from = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const body = await adminGet(client, `/_synapse/admin/v1/rooms?from=${from}&limit=${PAGE}`);
    for (const r of body.rooms ?? []) rooms.push({ room_id: String(r.room_id), name: r.name ?? null, canonical_alias: r.canonical_alias ?? null });
    if (body.next_batch === undefined || body.next_batch === null) return rooms;
    from = Number(body.next_batch);
  }
  throw new Error(`more than ${MAX_PAGES * PAGE} rooms`);
}

/** The member's own events in a room, oldest first, at most `limit`. */
export async function messagesOf(client: MatrixClient, roomId: string, userId: string, limit: number): Promise<{ events: unknown[]; truncated: boolean }> {
  const filter = enc(JSON.stringify({ senders: [userId] }));
  const events: unknown[] = [];
  let from: string | undefined;
  for (let page = 0; page <= Math.ceil(limit / PAGE); page++) {
    const query = `dir=b&limit=${PAGE}&filter=${filter}${from ? `&from=${enc(from)}` : ""}`;
    const body = await adminGet(client, `/_synapse/admin/v1/rooms/${enc(roomId)}/messages?${query}`);
    const chunk: unknown[] = Array.isArray(body.chunk) ? body.chunk : [];
    events.push(...chunk);
    if (events.length >= limit) return { events: events.slice(0, limit).reverse(), truncated: true };
    if (chunk.length === 0 || !body.end || body.end === from) break;
    from = String(body.end);
  }
  return { events: events.reverse(), truncated: false };
}

export interface MediaItem {
  media_id: string;
  media_type?: string;
  media_length?: number;
  upload_name?: string | null;
  created_ts?: number;
}

export async function mediaOf(client: MatrixClient, userId: string): Promise<MediaItem[]> {
  const media: MediaItem[] = [];
  let from = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const body = await adminGet(client, `/_synapse/admin/v1/users/${enc(userId)}/media?from=${from}&limit=${PAGE}`);
    media.push(...((body.media ?? []) as MediaItem[]));
    if (body.next_token === undefined || body.next_token === null) return media;
    from = Number(body.next_token);
  }
  throw new Error(`more than ${MAX_PAGES * PAGE} media`);
}

/** Media content is bytes: fetched directly (the provisioners' HttpClient reads text), bounded. */
async function download(target: MatrixTarget, serverName: string, mediaId: string): Promise<ReadableStream<Uint8Array>> {
  const url = new URL(`/_matrix/client/v1/media/download/${enc(serverName)}/${enc(mediaId)}`, target.media.baseUrl);
  const response = await fetch(url, {
    headers: { ...target.media.headers, ...(await target.client.authorization()) },
    signal: AbortSignal.timeout(120_000),
    // @ts-expect-error undici's extension to RequestInit, honoured by Node's fetch
    dispatcher: target.media.dispatcher,
  });
  if (!response.ok || !response.body) throw new Error(`GET ${url.pathname}: HTTP ${response.status}`);
  return response.body;
}

export async function exportMatrix(ctx: ExportContext<MatrixTarget>): Promise<void> {
  const { rec, target, folder, limits } = ctx;
  const { client } = target;
  const userId = matrixUserId(ctx.member, client.serverName);
  let exists = false;
  await part(rec, SERVICE, "account", t("compte", "account"), async () => {
    const account = await matrixAccount(client, userId);
    exists = account !== undefined;
    if (!account) return void rec.add({ service: SERVICE, part: "account", outcome: "none", summary: t(`aucun compte ${userId}`, `no account ${userId}`), count: 0 });
    rec.add({ service: SERVICE, part: "account", outcome: "done", summary: t("compte (nom affiché, adresses, dates)", "account (display name, addresses, dates)"), count: 1, files: [folder.writeJson("matrix/account.json", account)] });
  });
  if (!exists) return;

  await part(rec, SERVICE, "devices", t("appareils", "devices"), async () => {
    const devices = (await adminGet(client, `${userPath(userId)}/devices`)).devices ?? [];
    rec.add({ service: SERVICE, part: "devices", outcome: devices.length ? "done" : "none", summary: t(`${devices.length} appareil(s) (nom, dernière adresse IP, dernière connexion)`, `${devices.length} device(s) (name, last IP address, last seen)`), count: devices.length, files: devices.length ? [folder.writeJson("matrix/devices.json", devices)] : [] });
  });

  let rooms: RoomSummary[] | undefined;
  await part(rec, SERVICE, "rooms", t("salons", "rooms"), async () => {
    rooms = await allRooms(client);
    const joined: RoomSummary[] = [];
    for (const room of rooms) {
      const { members } = await adminGet(client, `/_synapse/admin/v1/rooms/${enc(room.room_id)}/members`);
      if (Array.isArray(members) && members.includes(userId)) joined.push(room);
    }
    rec.add({ service: SERVICE, part: "rooms", outcome: joined.length ? "done" : "none", summary: t(`${joined.length} salon(s) dont le membre fait partie`, `${joined.length} room(s) the member is in`), count: joined.length, files: joined.length ? [folder.writeJson("matrix/rooms.json", joined)] : [] });
  });

  if (rooms) {
    const serverRooms = rooms;
    await part(rec, SERVICE, "messages", t("messages", "messages"), async () => {
      const files: DsrFile[] = [];
      let count = 0;
      const truncated: string[] = [];
      for (const room of serverRooms) {
        const found = await messagesOf(client, room.room_id, userId, limits.messages);
        if (found.events.length === 0) continue;
        count += found.events.length;
        if (found.truncated) truncated.push(room.room_id);
        files.push(folder.writeJson(`matrix/messages/${safeName(room.room_id)}.json`, { room, events: found.events }));
      }
      if (truncated.length > 0) {
        rec.failed(SERVICE, "messages", t(`plus de ${limits.messages} messages dans ${truncated.length} salon(s) : relancer avec --max-messages plus grand`, `over ${limits.messages} messages in ${truncated.length} room(s): run again with a larger --max-messages`), `truncated in ${truncated.join(", ")}`);
      }
      rec.add({ service: SERVICE, part: "messages", outcome: count ? "done" : "none", summary: t(`${count} événement(s) envoyé(s) par le membre, dans ${files.length} salon(s)`, `${count} event(s) the member sent, in ${files.length} room(s)`), count, files });
    });
  }

  await part(rec, SERVICE, "media", t("fichiers envoyés (médias)", "uploaded media"), async () => {
    const media = await mediaOf(client, userId);
    const tooMany = t(
      `${media.length} médias, plus que la limite de ${limits.mediaCount} : les copier depuis le stockage des médias de Synapse`,
      `${media.length} media, over the limit of ${limits.mediaCount}: copy them from Synapse's media store`,
    );
    if (media.length > limits.mediaCount) return void rec.failed(SERVICE, "media", tooMany, `${media.length} media`);
    if (media.length === 0) return void rec.add({ service: SERVICE, part: "media", outcome: "none", summary: t("aucun média envoyé", "no uploaded media"), count: 0 });
    const files: DsrFile[] = [folder.writeJson("matrix/media/index.json", media)];
    let bytes = 0;
    try {
      for (const item of media) {
        const file = await folder.writeStream(`matrix/media/${safeName(item.media_id)}`, await download(target, client.serverName, item.media_id), limits.mediaBytes - bytes);
        bytes += file.bytes;
        files.push(file);
      }
    } catch (error) {
      if (!(error instanceof TooLarge)) throw error;
      return void rec.failed(SERVICE, "media", t(
        `médias trop gros (plus de ${formatBytes(limits.mediaBytes)} au total) : relancer avec --max-media-mb plus grand`,
        `media too large (over ${formatBytes(limits.mediaBytes)} in all): run again with a larger --max-media-mb`,
      ), error);
    }
    rec.add({ service: SERVICE, part: "media", outcome: "done", summary: t(`${media.length} média(s) envoyé(s), ${formatBytes(bytes)}`, `${media.length} uploaded media, ${formatBytes(bytes)}`), count: media.length, files });
  });

  rec.note(SERVICE, t(
    "Dans les salons chiffrés de bout en bout, les messages sont exportés chiffrés : seuls les appareils des membres ont les clés. Le membre peut exporter ses messages lisibles et ses clés depuis Element (Paramètres > Sécurité).",
    "In end-to-end encrypted rooms, messages are exported encrypted: only the members' devices hold the keys. The member can export their readable messages and keys from Element (Settings > Security).",
  ));
}

export async function eraseMatrix(ctx: EraseContext<MatrixTarget>): Promise<void> {
  const { rec, target } = ctx;
  const { client } = target;
  const userId = matrixUserId(ctx.member, client.serverName);
  await part(rec, SERVICE, "user.erase", t("désactivation avec effacement", "deactivation with erasure"), async () => {
    const provisioner = only(matrixProvisioner, (c) => c.kind === "user.erase" && c.member === ctx.member);
    const result = await converge(provisioner, ctx.desired, client, { concurrency: ctx.concurrency, dryRun: !ctx.confirm });
    recordConverge(rec, SERVICE, "user.erase", result, ctx.confirm, t("aucun compte, ou compte déjà effacé", "no account, or already erased"));
  });
  await part(rec, SERVICE, "media.delete", t("suppression des médias", "media deletion"), async () => {
    if (!(await matrixAccount(client, userId))) return void rec.add({ service: SERVICE, part: "media.delete", outcome: "none", summary: t("aucun compte, donc aucun média", "no account, so no media"), count: 0 });
    const media = await mediaOf(client, userId);
    if (media.length === 0) return void rec.add({ service: SERVICE, part: "media.delete", outcome: "none", summary: t("aucun média envoyé", "no uploaded media"), count: 0 });
    if (!ctx.confirm) return void rec.add({ service: SERVICE, part: "media.delete", outcome: "planned", summary: t(`à faire : supprimer ${media.length} média(s)`, `to do: delete ${media.length} media`), count: media.length });
    const response = await client.admin("DELETE", `/_synapse/admin/v1/users/${enc(userId)}/media`);
    if (response.status !== 200) throw new Error(`DELETE media of ${userId}: HTTP ${response.status} ${response.json?.errcode ?? ""}`.trim());
    const deleted = Number(response.json?.total ?? 0);
    rec.add({ service: SERVICE, part: "media.delete", outcome: "done", summary: t(`${deleted} média(s) supprimé(s)`, `${deleted} media deleted`), count: deleted });
  });
  rec.note(SERVICE, t(
    "Synapse marque le compte comme effacé : ses messages sont cachés à quiconque rejoint un salon ensuite, et supprimés par la durée de conservation des messages. Les membres déjà présents gardent leur copie, le protocole Matrix la leur ayant remise.",
    "Synapse marks the account as erased: its messages are hidden from anyone who joins a room afterwards, and deleted by the message retention period. Members who were in the room keep their copy, which the Matrix protocol delivered to them.",
  ));
}
