// What the admin's handover folder should hold, as bytes: per member, the welcome sheet
// (HTML and text) and, per staff device on the VPN server's list, its profile and QR code.
//
// Layout, under the handover directory (folders 0700, files 0600):
//   <member>/welcome.html, <member>/welcome.txt
//   <member>/<device>/<tunnel>.conf, <member>/<device>/<tunnel>.png
// One folder per device, so that the profile keeps the tunnel's own name: wg-quick and the
// WireGuard apps name the tunnel after the file, which must be a valid interface name
// (15 characters at most), and the welcome sheet tells the member to turn on "<tunnel>".
import type { Association } from "../../stacks/config/schema.ts";
import { serverPublicKey } from "../../stacks/services/vpn/blueprint.ts";
import { desiredState } from "../desired.ts";
import { ProvisionError, type ProvisionedService } from "../model.ts";
import { peerNetwork, tunnelName } from "../vpn/peer-config.ts";
import { deviceProfiles } from "../vpn/profiles.ts";
import { peerQrCode } from "../vpn/qr.ts";
import type { ServerPeer } from "../vpn/server.ts";
import { welcomeSheets } from "../welcome/sheet.ts";

/** Not yet in model.ts's union: the lead adds "handover" there; until then, this cast. */
export const HANDOVER: ProvisionedService = "handover";

export const FILE_MODE = 0o600;
export const FOLDER_MODE = 0o700;

export const WELCOME_FILES = { html: "welcome.html", text: "welcome.txt" } as const;

/** What the VPN resource kept (its `serviceState`), with the secrets the profiles are made from. */
export interface HandoverVpn {
  /** The server's peers: a list, or the VPN runner's state as it is kept (by peer id). */
  peers: readonly ServerPeer[] | Readonly<Record<string, ServerPeer>>;
  /** Each device's generated key seed, by peer id. */
  seeds: Readonly<Record<string, string>>;
  serverKeySeed: string;
}

export interface DesiredFile {
  content: Buffer;
  mode: number;
}

/** Per member id, the files of their folder by path inside it (`/`-separated). */
export interface HandoverDesired {
  members: Record<string, Record<string, DesiredFile>>;
}

export const profileFiles = (tunnel: string, device: string) => ({ conf: `${device}/${tunnel}.conf`, qr: `${device}/${tunnel}.png` });

const listOf = (peers: HandoverVpn["peers"]): ServerPeer[] => (Array.isArray(peers) ? [...peers] : Object.values(peers as Record<string, ServerPeer>));

/**
 * The folder's content for this config. Profiles are made only for devices both in the
 * config and on the server's list: a device the server does not list yet gets its file on
 * the run after the VPN's, and one removed from the config never gets a file again.
 */
export async function handoverContent(config: Association, vpn?: HandoverVpn): Promise<HandoverDesired> {
  const desired = desiredState(config);
  const sheets = await welcomeSheets(config, desired);
  const members: HandoverDesired["members"] = {};
  const file = (content: string | Buffer): DesiredFile => ({ content: typeof content === "string" ? Buffer.from(content, "utf8") : content, mode: FILE_MODE });
  for (const member of config.members) {
    const sheet = sheets[member.id]!;
    members[member.id] = { [WELCOME_FILES.html]: file(sheet.html), [WELCOME_FILES.text]: file(sheet.text) };
  }

  if (vpn && desired.vpn) {
    const wanted = new Set(desired.vpn.peers.map((p) => p.id));
    const peers = listOf(vpn.peers).filter((p) => wanted.has(p.id));
    if (!vpn.serverKeySeed) throw new ProvisionError(HANDOVER, undefined, "the VPN server's key seed is missing from the connection");
    const network = peerNetwork({ hostnames: desired.hostnames, port: config.services.vpn.port, subnet: config.services.vpn.subnet });
    const profiles = deviceProfiles(peers, { seeds: vpn.seeds, network, serverPublicKey: serverPublicKey(vpn.serverKeySeed) });
    const tunnel = tunnelName(desired.hostnames);
    for (const peer of peers) {
      const profile = profiles[peer.id]!;
      // qrcode's PNG is deterministic (no timestamp chunk): an unchanged profile gives the same bytes.
      const { png } = await peerQrCode(profile);
      const names = profileFiles(tunnel, peer.device);
      members[peer.member]![names.conf] = file(profile);
      members[peer.member]![names.qr] = file(png);
    }
  }
  return { members };
}
