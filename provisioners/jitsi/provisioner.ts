// Jitsi accounts: staff (admins and staff) get an account in the secure domain, so they
// can open rooms; guests need none. A departed member's account is deleted at once,
// for disable and erase alike: Prosody keeps nothing else about them (meetings are never
// stored), so there is nothing to keep for the grace period, and a deleted account
// cannot open a room any more.
import type { DesiredState } from "../desired.ts";
import { ProvisionError, type Change, type ServiceProvisioner } from "../model.ts";
import { createAccount, deleteAccount, listAccounts, unusablePassword, type JitsiClient } from "./accounts.ts";

export interface JitsiLive {
  domain: string;
  /** User names with an account on the domain. */
  accounts: string[];
}

interface AccountPayload {
  username: string;
  domain: string;
}

export type JitsiChange = Change<"account.delete" | "account.create", AccountPayload> & { service: "jitsi"; member: string };

/** Deletions first: a departure never waits for the creations of the same run. */
export const PHASES = { delete: 1, create: 2 } as const;

const subject = (payload: AccountPayload) => `account ${payload.username}@${payload.domain}`;

function change(kind: JitsiChange["kind"], member: string, payload: AccountPayload): JitsiChange {
  return { service: "jitsi", kind, member, subject: subject(payload), phase: kind === "account.delete" ? PHASES.delete : PHASES.create, payload };
}

/** Pure: what to create and delete so that the live accounts match the config. */
export function planJitsi(desired: DesiredState, live: JitsiLive): JitsiChange[] {
  const jitsi = desired.jitsi;
  if (!jitsi) return [];
  const domain = jitsi.domain;
  const present = new Set(live.accounts);
  const wanted = new Set(jitsi.accounts.map((a) => a.username));
  const departed = [...new Set([...desired.departures.disable, ...desired.departures.erase])].sort();

  const deletions = departed
    // Usernames are member ids; an account whose name matches no departed member
    // (one an operator made by hand) is never Bastide's to remove.
    .filter((member) => present.has(member) && !wanted.has(member))
    .map((member) => change("account.delete", member, { username: member, domain }));
  const creations = jitsi.accounts
    .filter((account) => !present.has(account.username))
    .map((account) => change("account.create", account.member, { username: account.username, domain }));
  return [...deletions, ...creations];
}

async function applyJitsi(change: JitsiChange, client: JitsiClient): Promise<void> {
  const { username, domain } = change.payload;
  try {
    if (change.kind === "account.create") await createAccount(client, username, domain, unusablePassword());
    else await deleteAccount(client, username, domain);
  } catch (error) {
    throw new ProvisionError("jitsi", change.member, (error as Error).message, { cause: error });
  }
}

async function readJitsi(client: JitsiClient, desired: DesiredState): Promise<JitsiLive> {
  const domain = desired.jitsi?.domain;
  if (!domain) return { domain: "", accounts: [] };
  try {
    return { domain, accounts: await listAccounts(client, domain) };
  } catch (error) {
    throw new ProvisionError("jitsi", undefined, (error as Error).message, { cause: error });
  }
}

export const jitsiProvisioner: ServiceProvisioner<DesiredState, JitsiLive, JitsiChange, JitsiClient> = {
  service: "jitsi",
  read: readJitsi,
  plan: planJitsi,
  apply: applyJitsi,
};
