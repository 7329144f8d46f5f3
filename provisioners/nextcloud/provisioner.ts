// Nextcloud accounts, groups and memberships: read what runs, plan (pure, plan.ts),
// apply each change. Errors name the service and the member.
import { ProvisionError, type ServiceProvisioner } from "../model.ts";
import { mapLimit } from "../runtime/concurrency.ts";
import {
  addToGroup,
  createGroup,
  createUser,
  deleteUser,
  disableUser,
  enableUser,
  listGroups,
  listUserIds,
  OcsError,
  removeFromGroup,
  renameGroup,
  sendWelcome,
  updateUser,
  userDetails,
  type NextcloudClient,
} from "./client.ts";
import type { DesiredNextcloudUser } from "../desired.ts";
import { managedUserIds, planNextcloud, userEdits, type LiveNextcloudUser, type NextcloudChange, type NextcloudDesired, type NextcloudLive } from "./plan.ts";

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function readNextcloud(client: NextcloudClient, desired: NextcloudDesired): Promise<NextcloudLive> {
  const live: NextcloudLive = { groups: new Map(), users: new Map() };
  if (!desired.nextcloud) return live;
  let existing: Set<string>;
  try {
    live.groups = await listGroups(client);
    existing = new Set(await listUserIds(client));
  } catch (error) {
    throw new ProvisionError("nextcloud", undefined, `reading groups and users: ${describe(error)}`, { cause: error });
  }
  const ids = managedUserIds(desired).filter((id) => existing.has(id));
  const details = await mapLimit(ids, client.concurrency, async (id) => {
    try {
      return await userDetails(client, id);
    } catch (error) {
      throw new ProvisionError("nextcloud", id, `reading user ${id}: ${describe(error)}`, { cause: error });
    }
  });
  for (const user of details) if (user) live.users.set(user.id, user satisfies LiveNextcloudUser);
  const service = desired.nextcloud.serviceAccount;
  if (desired.nextcloud.serviceAccountName !== undefined) {
    try {
      live.serviceAccount = await userDetails(client, service);
    } catch (error) {
      throw new ProvisionError("nextcloud", undefined, `reading the service account ${service}: ${describe(error)}`, { cause: error });
    }
  }
  return live;
}

export async function applyNextcloud(change: NextcloudChange, client: NextcloudClient): Promise<void> {
  try {
    switch (change.kind) {
      case "group.create":
        return await createGroup(client, change.payload.group, change.payload.displayName);
      case "group.rename":
        return await renameGroup(client, change.payload.group, change.payload.displayName);
      case "user.create":
        return await createAccount(client, change.payload);
      case "user.update":
        return await updateUser(client, change.payload.id, change.payload.key, change.payload.value);
      case "user.enable":
        return await enableUser(client, change.payload.id);
      case "user.disable":
        return await disableUser(client, change.payload.id);
      case "user.delete":
        return await deleteUser(client, change.payload.id);
      case "membership.add":
        return await addToGroup(client, change.payload.id, change.payload.group);
      case "membership.remove":
        return await removeFromGroup(client, change.payload.id, change.payload.group);
    }
  } catch (error) {
    throw new ProvisionError("nextcloud", change.member, `${change.kind} ${change.subject}: ${describe(error)}`, { cause: error });
  }
}

/**
 * Creates the account. When Nextcloud reports a failure but the account exists (it was
 * recorded doing so, without setting the e-mail), the creation is finished by hand:
 * fields, groups, and the welcome mail Nextcloud would have sent (where mail is set up).
 */
async function createAccount(client: NextcloudClient, user: DesiredNextcloudUser): Promise<void> {
  try {
    await createUser(client, user);
    return;
  } catch (error) {
    if (!(error instanceof OcsError)) throw error;
    const created = await userDetails(client, user.id);
    if (!created) throw error;
    const emailMissing = created.email === null;
    for (const { key, value } of userEdits(user, { ...created, email: created.email ?? "" })) await updateUser(client, user.id, key, value);
    for (const group of user.groups.filter((g) => !created.groups.includes(g))) await addToGroup(client, user.id, group);
    if (emailMissing) await sendWelcome(client, user.id);
  }
}

export const nextcloudProvisioner: ServiceProvisioner<NextcloudDesired, NextcloudLive, NextcloudChange, NextcloudClient> = {
  service: "nextcloud",
  read: readNextcloud,
  plan: planNextcloud,
  apply: applyNextcloud,
};
