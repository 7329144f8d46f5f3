// Every device's profile, from the same seeds and addresses as the server's list, so the
// two always match. Secret output: the caller stores it (Pulumi secret, 0600 file).
import { ProvisionError } from "../model.ts";
import { peerKeyPair, peerSeedSecretName } from "./keys.ts";
import { peerConfig, type PeerNetwork } from "./peer-config.ts";
import type { ServerPeer } from "./server.ts";

export function deviceProfiles(
  peers: readonly ServerPeer[],
  input: { seeds: Readonly<Record<string, string>>; network: PeerNetwork; serverPublicKey: string },
): Record<string, string> {
  return Object.fromEntries(
    peers.map((peer) => {
      const seed = Object.hasOwn(input.seeds, peer.id) ? input.seeds[peer.id] : undefined;
      if (!seed) throw new ProvisionError("vpn", peer.member, `device ${peer.device}: the generated secret "${peerSeedSecretName(peer.id)}" is missing`);
      const keys = peerKeyPair(seed);
      if (keys.publicKey !== peer.publicKey) {
        throw new ProvisionError("vpn", peer.member, `device ${peer.device}: its seed does not give the public key the server lists`);
      }
      const { id, member, device } = peer;
      const profile = peerConfig({ ...input.network, peer: { id, member, device }, privateKey: keys.privateKey, address: peer.address, serverPublicKey: input.serverPublicKey });
      return [peer.id, profile];
    }),
  );
}
