// The VPN's part of a request: the member's devices as the WireGuard server knows them.
//
// Which peers are the member's: the server's wg-quick file names each peer on the line
// after `[Peer]` (`# <member> <device>`, templates/vpn/wg0.conf.hbs); only the peer
// sections are read (awk, in the container), so the server's private key, in the
// [Interface] section, never leaves it. What the running interface says about them comes
// from `wg show wg0 endpoints | latest-handshakes | transfer`, one field per call: unlike
// `wg show wg0 dump`, none of them prints the server's private key or preshared keys. A
// member's private key is never read either: it lives only on their device.
//
// Erasure: each of the member's peers is removed from the running interface
// (`wg set wg0 peer <key> remove`, as the VPN provisioner's peer.remove does) and their
// sections from the file, so a restart does not bring them back.
import type { CommandResult } from "../../provisioners/runtime/docker.ts";
import { part, type EraseContext, type ExportContext } from "./context.ts";
import { t } from "./model.ts";
import type { Commands } from "./targets.ts";

const SERVICE = "vpn" as const;
export const WG_INTERFACE = "wg0";

type VpnTarget = { wireguard: Commands; confPath: string };

/** Member ids are schema-checked; this keeps them literal in awk and in a command line. */
const SAFE_ID = /^[a-z0-9][a-z0-9._-]*$/;

export interface ConfPeer {
  /** The comment after [Peer]: `<member> <device>`. */
  name: string;
  publicKey: string;
  allowedIps: string[];
}

export interface LivePeer {
  publicKey: string;
  endpoint: string | null;
  /** Unix seconds; 0 when it never connected. */
  latestHandshake: number;
  receivedBytes: number;
  sentBytes: number;
}

// POSIX awk only (the WireGuard image's is BusyBox's); Bastide writes section headers at
// the start of their line (templates/vpn/wg0.conf.hbs).

/** Prints the file from its first [Peer] section on: never the [Interface] section. */
export const PEER_SECTIONS_AWK = "p || /^\\[Peer\\]/ { p = 1; print }";

/** Prints the file without the peer sections whose name line starts with `# <m> `. */
export const DROP_MEMBER_AWK = [
  'function flush() { if (!drop) printf "%s", held; held = ""; drop = 0 }',
  "/^\\[/ { flush(); inpeer = ($0 ~ /^\\[Peer\\]/); lines = 0 }",
  'inpeer { lines++; if (lines == 2 && index($0, "# " m " ") == 1) drop = 1; held = held $0 "\\n"; next }',
  "{ print }",
  "END { flush() }",
].join("\n");

export function parsePeerSections(text: string): ConfPeer[] {
  const peers: ConfPeer[] = [];
  let current: ConfPeer | undefined;
  let lines = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (/^\[Peer\]$/.test(line)) {
      current = { name: "", publicKey: "", allowedIps: [] };
      peers.push(current);
      lines = 1;
      continue;
    }
    if (!current) continue;
    lines++;
    if (lines === 2 && line.startsWith("#")) current.name = line.replace(/^#\s*/, "");
    const setting = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (setting?.[1] === "PublicKey") current.publicKey = setting[2]!.trim();
    if (setting?.[1] === "AllowedIPs") current.allowedIps = setting[2]!.split(",").map((s) => s.trim()).filter(Boolean);
  }
  return peers;
}

/** `wg show <if> <field>`: one line per peer, its public key then tab-separated values. */
export function parseWgField(output: string): Map<string, string[]> {
  return new Map(
    output
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [key, ...values] = line.split("\t");
        return [key!, values] as const;
      }),
  );
}

async function mustRun(commands: Commands, cmd: string[], input?: string): Promise<CommandResult> {
  const result = await commands.run(cmd, input);
  if (result.exitCode !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} in ${commands.where}: exit ${result.exitCode}: ${result.stderr.trim().slice(0, 300)}`);
  return result;
}

/** The member's peers in the server's file, and what the running interface says of each. */
export async function memberPeers(target: VpnTarget, member: string): Promise<{ conf: (ConfPeer & { device: string })[]; live: LivePeer[] }> {
  if (!SAFE_ID.test(member)) throw new Error(`"${member}" is not a member id`);
  const sections = await mustRun(target.wireguard, ["awk", PEER_SECTIONS_AWK, target.confPath]);
  const prefix = `${member} `;
  const conf = parsePeerSections(sections.stdout)
    .filter((p) => p.name.startsWith(prefix))
    .map((p) => ({ ...p, device: p.name.slice(prefix.length) }));
  const field = async (name: string) => parseWgField((await mustRun(target.wireguard, ["wg", "show", WG_INTERFACE, name])).stdout);
  const [endpoints, handshakes, transfer] = [await field("endpoints"), await field("latest-handshakes"), await field("transfer")];
  const live = conf.flatMap((p): LivePeer[] => {
    const endpoint = endpoints.get(p.publicKey);
    if (!endpoint) return [];
    const [received = "0", sent = "0"] = transfer.get(p.publicKey) ?? [];
    return [{ publicKey: p.publicKey, endpoint: endpoint[0] === "(none)" ? null : (endpoint[0] ?? null), latestHandshake: Number(handshakes.get(p.publicKey)?.[0] ?? 0), receivedBytes: Number(received), sentBytes: Number(sent) }];
  });
  return { conf, live };
}

export async function exportVpn(ctx: ExportContext<VpnTarget>): Promise<void> {
  const { rec, member } = ctx;
  await part(rec, SERVICE, "devices", t("appareils", "devices"), async () => {
    const { conf, live } = await memberPeers(ctx.target, member);
    const devices: Record<string, unknown>[] = conf.map((p) => {
      const now = live.find((l) => l.publicKey === p.publicKey);
      return {
        device: p.device,
        publicKey: p.publicKey,
        tunnelAddresses: p.allowedIps,
        onServer: now !== undefined,
        lastEndpoint: now?.endpoint ?? null,
        latestHandshake: now && now.latestHandshake > 0 ? new Date(now.latestHandshake * 1000).toISOString() : null,
        receivedBytes: now?.receivedBytes ?? 0,
        sentBytes: now?.sentBytes ?? 0,
      };
    });
    // Devices the config lists that the server does not have (yet).
    for (const peer of ctx.desired.vpn?.peers ?? []) {
      if (peer.member === member && !conf.some((p) => p.device === peer.device)) devices.push({ device: peer.device, onServer: false, inConfigOnly: true });
    }
    rec.add({
      service: SERVICE,
      part: "devices",
      outcome: devices.length ? "done" : "none",
      summary: t(`${conf.length} appareil(s) sur le serveur (nom, clé publique, adresse dans le tunnel, dernière adresse IP et connexion)`, `${conf.length} device(s) on the server (name, public key, tunnel address, last IP address and handshake)`),
      count: conf.length,
      files: devices.length ? [ctx.folder.writeJson("vpn/devices.json", devices)] : [],
    });
  });
  rec.note(SERVICE, t("La clé privée de chaque appareil n'existe que sur l'appareil : elle n'est ni conservée ni exportée.", "Each device's private key exists only on the device: it is neither kept nor exported."));
}

export async function eraseVpn(ctx: EraseContext<VpnTarget>): Promise<void> {
  const { rec, member, target } = ctx;
  await part(rec, SERVICE, "peer.remove", t("retrait des appareils", "device removal"), async () => {
    const { conf, live } = await memberPeers(target, member);
    if (conf.length === 0) return void rec.add({ service: SERVICE, part: "peer.remove", outcome: "none", summary: t("aucun appareil sur le serveur", "no device on the server"), count: 0 });
    if (!ctx.confirm) {
      return void rec.add({ service: SERVICE, part: "peer.remove", outcome: "planned", summary: t(`à faire : retirer ${conf.length} appareil(s) : ${conf.map((p) => p.device).join(", ")}`, `to do: remove ${conf.length} device(s): ${conf.map((p) => p.device).join(", ")}`), count: conf.length });
    }
    for (const peer of live) await mustRun(target.wireguard, ["wg", "set", WG_INTERFACE, "peer", peer.publicKey, "remove"]);
    // Written whole then renamed, like the VPN provisioner's own write: a restart never finds half a file.
    const script = 'umask 077 && awk -v m="$2" "$3" "$1" > "$1.new" && mv "$1.new" "$1"';
    await mustRun(target.wireguard, ["sh", "-c", script, "sh", target.confPath, member, DROP_MEMBER_AWK]);
    rec.add({ service: SERVICE, part: "peer.remove", outcome: "done", summary: t(`${conf.length} appareil(s) retiré(s) : ${conf.map((p) => p.device).join(", ")}`, `${conf.length} device(s) removed: ${conf.map((p) => p.device).join(", ")}`), count: conf.length });
  });
}
