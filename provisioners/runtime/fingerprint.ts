// How a provisioner knows a secret a server keeps but never gives back is its own: it keeps
// (or names a thing after) the secret's SHA-256 instead, which says nothing usable of a
// generated secret.
import { createHash } from "node:crypto";

/** SHA-256 of the secret, hex. */
export const secretFingerprint = (secret: string) => createHash("sha256").update(secret, "utf8").digest("hex");
