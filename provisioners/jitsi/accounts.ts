// Prosody accounts through prosodyctl, each command counted as a call to "jitsi".
//
// Prosody 0.12 (Debian bookworm) and 13 (docker-jitsi-meet) agree on what is used here:
// - listing: `prosodyctl shell user list HOST` asks the running server, which reads its own
//   storage, so Bastide needs neither the data folder nor its percent-encoded names
//   (`meet%2ejitsi/accounts/claire%2edubois.dat`); it prints one `user@host` per line.
// - creating and changing a password: `prosodyctl adduser JID` / `passwd JID` read the
//   password twice from standard input, so it never appears on a command line.
// - deleting: `prosodyctl shell user delete JID` goes through the running server, which
//   closes the member's open sessions at once ("Account deleted"); `prosodyctl deluser`
//   would only remove the file and leave a departed member in their meeting.
import { randomBytes, randomInt } from "node:crypto";
import type { CallCounter } from "../runtime/http.ts";
import type { CommandResult, ProsodyCommands } from "./commands.ts";

export interface JitsiClient {
  commands: ProsodyCommands;
  counter?: CallCounter;
}

export const SERVICE = "jitsi";

/** The counter files calls by HTTP method: listing counts as a GET, a change as an EXEC (a write). */
const READ_CALL = "GET";
const WRITE_CALL = "EXEC";

/** Member ids are already safe XMPP localparts; anything else is refused before prosodyctl sees it. */
const LOCALPART = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function checkDomain(domain: string): string {
  if (!DOMAIN.test(domain)) throw new Error(`"${domain}" is not a valid XMPP domain`);
  return domain;
}

export function jid(username: string, domain: string): string {
  if (!LOCALPART.test(username)) throw new Error(`"${username}" is not a valid Jitsi user name`);
  return `${username}@${checkDomain(domain)}`;
}

async function run(client: JitsiClient, kind: "read" | "write", args: string[], input?: string): Promise<CommandResult> {
  const path = `prosodyctl ${args.join(" ")}`;
  const method = kind === "read" ? READ_CALL : WRITE_CALL;
  try {
    const result = await client.commands.prosodyctl(args, input);
    client.counter?.record(SERVICE, method, path, result.exitCode);
    return result;
  } catch (error) {
    client.counter?.record(SERVICE, method, path, "error");
    throw error;
  }
}

/** What prosodyctl said, on one line, with any secret it was given blanked out. */
export function describeResult(result: CommandResult, secrets: readonly string[] = []): string {
  let text = `${result.stderr}\n${result.stdout}`
    // prompts and the escape codes that hide what is typed
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !/^(Enter new password|Retype new password):?$/.test(line) && !/^\*+$/.test(line))
    .join(" | ");
  for (const secret of secrets) if (secret) text = text.split(secret).join("<password>");
  return `exit ${result.exitCode}${text ? `: ${text}` : ""}`;
}

/** The accounts in `user list` output: lines that are exactly `localpart@domain`. */
export function parseUserList(output: string, domain: string): string[] {
  const suffix = `@${domain}`;
  const users = output
    .split("\n")
    .map((line) => line.trim().replace(/^\|\s*/, ""))
    .filter((line) => line.endsWith(suffix) && !/\s/.test(line))
    .map((line) => line.slice(0, -suffix.length))
    .filter((user) => user.length > 0);
  return [...new Set(users)].sort();
}

/** Accounts on `domain`, from the running server. */
export async function listAccounts(client: JitsiClient, domain: string): Promise<string[]> {
  const result = await run(client, "read", ["shell", "user", "list", checkDomain(domain)]);
  if (result.exitCode !== 0) {
    throw new Error(`cannot list the accounts of ${domain} (${client.commands.where}): ${describeResult(result)}`);
  }
  return parseUserList(result.stdout, domain);
}

export type CreateOutcome = "created" | "already-there";

/**
 * Creates an account with `password` (given on standard input). An account that is
 * already there (a retried or concurrent run) counts as success and is left untouched.
 */
export async function createAccount(client: JitsiClient, username: string, domain: string, password: string): Promise<CreateOutcome> {
  const result = await run(client, "write", ["adduser", jid(username, domain)], `${password}\n${password}\n`);
  if (result.exitCode === 0) return "created";
  if (/already exists|user exists/i.test(`${result.stdout}\n${result.stderr}`)) return "already-there";
  throw new Error(`cannot create ${username}@${domain} (${client.commands.where}): ${describeResult(result, [password])}`);
}

export type DeleteOutcome = "deleted" | "not-there";

/** Deletes an account through the running server, which disconnects its sessions. */
export async function deleteAccount(client: JitsiClient, username: string, domain: string): Promise<DeleteOutcome> {
  const result = await run(client, "write", ["shell", "user", "delete", jid(username, domain)]);
  if (result.exitCode === 0) return "deleted";
  if (/no such user/i.test(`${result.stdout}\n${result.stderr}`)) return "not-there";
  throw new Error(`cannot delete ${username}@${domain} (${client.commands.where}): ${describeResult(result)}`);
}

/** Replaces the password of an existing account (given on standard input). */
export async function setPassword(client: JitsiClient, username: string, domain: string, password: string): Promise<void> {
  const result = await run(client, "write", ["passwd", jid(username, domain)], `${password}\n${password}\n`);
  if (result.exitCode !== 0) {
    throw new Error(`cannot set the password of ${username}@${domain} (${client.commands.where}): ${describeResult(result, [password])}`);
  }
}

/**
 * The password a new account is created with: 256 random bits that are never stored,
 * printed or logged, so nobody can sign in until the admin hands a password over.
 */
export const unusablePassword = (): string => randomBytes(32).toString("base64url");

/** Letters and digits that cannot be mistaken for one another when read aloud or copied. */
const READABLE = "abcdefghjkmnpqrstuvwxyz23456789";

/** A password a person can type: 4 groups of 5 readable characters, about 99 bits. */
export function readablePassword(): string {
  const groups = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => READABLE[randomInt(READABLE.length)]).join(""));
  return groups.join("-");
}
