// Each staff device has its own key pair, derived from a seed of its own: a generated
// Pulumi secret (RandomPassword) per peer id, so one device is revoked by removing it,
// and a device removed then listed again gets a fresh seed, hence a fresh key.
import { wireguardPrivateKey, wireguardPublicKey } from "../../stacks/services/vpn/keys.ts";

/** Length of the generated seed, as for the server's. */
export const PEER_SEED_LENGTH = 64;

/** Name of the generated secret a peer's key is derived from, for the lead's RandomPassword. */
export const peerSeedSecretName = (peerId: string) => `peer-${peerId}-key-seed`;

export interface PeerKeyPair {
  /** Secret: only ever goes into the device's own profile. */
  privateKey: string;
  /** Goes into the server's peer list. */
  publicKey: string;
}

export function peerKeyPair(seed: string): PeerKeyPair {
  const privateKey = wireguardPrivateKey(seed);
  return { privateKey, publicKey: wireguardPublicKey(privateKey) };
}
