// WireGuard keys derived from a generated secret. The blueprint's secrets are random
// alphanumeric strings (Pulumi secrets, stable across runs), not Curve25519 keys, so the
// server's key pair is derived from one deterministically: the same secret always gives
// the same key, and the public key can be shown without ever storing the private one.
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

const KEY_BYTES = 32;

// Node reads a bare X25519 private key only as PKCS#8 (its JWK import also wants the
// public `x`, which is what we are computing): this is the fixed DER header for 32 bytes.
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Decodes a WireGuard key (standard base64 of 32 bytes), refusing anything else. */
export function decodeWireguardKey(keyBase64: string, what = "WireGuard key"): Buffer {
  const bytes = Buffer.from(keyBase64, "base64");
  if (bytes.length !== KEY_BYTES || bytes.toString("base64") !== keyBase64) {
    throw new Error(`${what} must be 32 bytes in standard base64 (44 characters ending in "="), as \`wg genkey\` prints`);
  }
  return bytes;
}

/** Curve25519 clamping, as `wg genkey` does; WireGuard clamps anyway, this keeps the key canonical. */
function clamp(scalar: Buffer): Buffer {
  const clamped = Buffer.from(scalar);
  clamped[0]! &= 248;
  clamped[31]! = (clamped[31]! & 127) | 64;
  return clamped;
}

/** The private key for `seed`: SHA-256 of it, clamped, in base64 (what `PrivateKey =` takes). */
export function wireguardPrivateKey(seed: string): string {
  if (seed.length === 0) throw new Error("a WireGuard key seed must not be empty");
  return clamp(createHash("sha256").update(seed, "utf8").digest()).toString("base64");
}

/** The public key of a base64 private key, exactly as `wg pubkey` computes it. */
export function wireguardPublicKey(privateKeyBase64: string): string {
  const scalar = decodeWireguardKey(privateKeyBase64, "a WireGuard private key");
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, scalar]), format: "der", type: "pkcs8" });
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  if (!x) throw new Error("X25519 public key export returned no key");
  return Buffer.from(x, "base64url").toString("base64");
}
