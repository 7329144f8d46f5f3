// What Prosody does with a meeting token, written down from its sources so that a test can ask
// it of a token the real Keycloak signed. No Prosody with Jitsi's token plugin runs here (the
// plugin and its JWT library come from jitsi-meet's Debian repository and luarocks), so this is
// a transcription, kept to the checks the plugin makes, in its order, with its messages:
//   - luajwtjitsi's decode(token, key, verify) (jitsi's fork, as vendored by the stored copies of
//     luajwtjitsi.lib.lua): a JSON header whose typ is "JWT", an alg it knows (HS256 here:
//     HMAC-SHA256 keyed by app_secret's characters), the signature, then exp (now >= exp
//     refuses) and nbf;
//   - jitsi-meet resources/prosody-plugins/token/util.lib.lua (read at commit 0c48e205),
//     Util:verify_token: alg not "none", iss present and among asap_accepted_issuers, room
//     present (asap_require_room_claim defaults to true), aud present and accepted ("*" by
//     default: docker-jitsi-meet sets JWT_ACCEPTED_AUDIENCES only when given);
//   - Util:verify_room, without domain verification (docker-jitsi-meet's default): the room
//     joined must equal the claim, lower-cased, or the claim be "*".
import { createHmac, timingSafeEqual } from "node:crypto";

export type ProsodyVerdict = { accepted: true; claims: Record<string, any>; header: Record<string, any> } | { accepted: false; reason: string };

const decodePart = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

export function prosodyVerdict(token: string, options: { appSecret: string; acceptedIssuers: string[]; room: string; now?: Date }): ProsodyVerdict {
  const parts = token.split(".");
  if (parts.length !== 3) return { accepted: false, reason: "Invalid token" };
  const [headerPart, bodyPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, any>;
  let claims: Record<string, any>;
  try {
    header = decodePart(headerPart);
    claims = decodePart(bodyPart);
  } catch {
    return { accepted: false, reason: "Invalid json" };
  }
  if (header.typ !== "JWT") return { accepted: false, reason: "Invalid typ" };
  if (typeof header.alg !== "string") return { accepted: false, reason: "Invalid alg" };
  if (claims.exp !== undefined && typeof claims.exp !== "number") return { accepted: false, reason: "exp must be number" };
  if (claims.nbf !== undefined && typeof claims.nbf !== "number") return { accepted: false, reason: "nbf must be number" };
  if (header.alg !== "HS256") return { accepted: false, reason: "Algorithm not supported" };
  const expected = createHmac("sha256", options.appSecret).update(`${headerPart}.${bodyPart}`).digest();
  const signature = Buffer.from(signaturePart, "base64url");
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return { accepted: false, reason: "Invalid signature" };
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (claims.exp !== undefined && now >= claims.exp) return { accepted: false, reason: "Not acceptable by exp" };
  if (claims.nbf !== undefined && now < claims.nbf) return { accepted: false, reason: "Not acceptable by nbf" };
  if (claims.iss === undefined) return { accepted: false, reason: "'iss' claim is missing" };
  if (!options.acceptedIssuers.includes(claims.iss)) return { accepted: false, reason: "Invalid issuer ('iss' claim)" };
  if (claims.room === undefined) return { accepted: false, reason: "'room' claim is missing" };
  if (claims.aud === undefined) return { accepted: false, reason: "'aud' claim is missing" };
  const room = typeof claims.room === "string" ? claims.room : undefined;
  if (room !== "*" && options.room !== room?.toLowerCase()) return { accepted: false, reason: "Room and token mismatched" };
  return { accepted: true, claims, header };
}
