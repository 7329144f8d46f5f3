// How a staff member gets into Jitsi. Jitsi has no "forgot my password" page and Bastide
// keeps no password, so accounts are created with an unusable random one, and the admin
// runs, for each staff member, in a terminal:
//
//   npm run jitsi-password -- claire.dubois [path/to/association.yaml]
//
// It sets a fresh readable password and shows it once, on that terminal only (it refuses
// to write it to a pipe or a file). The admin gives it to the member in person or over an
// end-to-end encrypted chat; running it again replaces it, when a member forgets it or it
// leaked. Nothing is stored: not in Pulumi's state, not in a log, not in a file.
import type { DesiredState } from "../desired.ts";
import { ProvisionError } from "../model.ts";
import { listAccounts, readablePassword, setPassword, type JitsiClient } from "./accounts.ts";

/** Sets a new password for `member`'s existing account and returns it, for the admin's eyes only. */
export async function handOverPassword(client: JitsiClient, domain: string, member: string): Promise<string> {
  let accounts: string[];
  try {
    accounts = await listAccounts(client, domain);
  } catch (error) {
    throw new ProvisionError("jitsi", member, (error as Error).message, { cause: error });
  }
  if (!accounts.includes(member)) {
    throw new ProvisionError("jitsi", member, `no account ${member}@${domain} yet: run \`pulumi up\` first (it creates one for every admin and staff member)`);
  }
  const password = readablePassword();
  try {
    await setPassword(client, member, domain, password);
  } catch (error) {
    throw new ProvisionError("jitsi", member, (error as Error).message, { cause: error });
  }
  return password;
}

/** The account of `member` in the desired state, or why there is none. */
export function staffAccount(desired: DesiredState, member: string): { domain: string; username: string } {
  const jitsi = desired.jitsi;
  if (!jitsi && desired.identity?.meetingKey)
    throw new ProvisionError("jitsi", member, "hosts open meetings with the one login (services.identity), so Jitsi holds no password of theirs: hand over the one login's with `npm run first-password`");
  if (!jitsi) throw new ProvisionError("jitsi", member, "Jitsi is not enabled in the config (services.jitsi.enabled)");
  const account = jitsi.accounts.find((a) => a.member === member);
  if (!account) {
    throw new ProvisionError("jitsi", member, "only members with role admin or staff have a Jitsi account; check the member's id and role in the config");
  }
  return { domain: jitsi.domain, username: account.username };
}
