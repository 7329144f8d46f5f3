// The Pulumi program. The config is validated before anything is registered:
// a bad file stops here with every problem listed, and nothing changes.
import * as pulumi from "@pulumi/pulumi";
import { RunError } from "@pulumi/pulumi/errors.js";
import { silenceSqliteWarning } from "../cli/command.ts";
import { loadAssociation } from "./config/load.ts";
import { suppliedSecrets } from "./config/supplied.ts";
import { Bastide } from "./bastide.ts";
import { SERVER_KEY_SECRET, serverPublicKey } from "./services/vpn/blueprint.ts";
import { IMAGES } from "./services/images.ts";
import { hostnames } from "./services/catalog.ts";
import { IDENTITY_ADMIN_USER, IDENTITY_SECRETS, issuerOf } from "./services/identity/blueprint.ts";
import { DEPLOYED_NEXTCLOUD_OUTPUT, NEXTCLOUD_RESTORED_CONFIG, nextcloudUpgradeProblem, runningNextcloudProblem, UpgradeRefused } from "./services/nextcloud/upgrade.ts";
import { runningNextcloudOn } from "./services/nextcloud/running.ts";
import { OFFLINE_CONFIG } from "./offline/mocks.ts";
import { planSummary, rosterOf, type RosterEntry } from "./summary.ts";

silenceSqliteWarning();
const ROSTER_OUTPUT = "roster";
const settings = new pulumi.Config("bastide");
// No file is guessed: a stack deployed by `npm run deploy -- FILE` has it.
const file = settings.get("config");
if (!file) throw new RunError("this stack has no association file (bastide:config); nothing was created or changed. Give it with npm run deploy -- path/to/association.yaml, or npm run pulumi -- config set bastide:config path/to/association.yaml");
const config = loadAssociation(file);
// Read before anything is registered: a missing password stops the run here, with Pulumi's
// own message naming the key and the `pulumi config set --secret` command.
const provided: Record<string, pulumi.Output<string>> = {};
for (const secret of suppliedSecrets(config)) provided[secret.name] = settings.requireSecret(secret.configKey);
// What the last `pulumi up` deployed, from this stack's own outputs (a read: nothing is created).
// Nextcloud upgrades one major at a time: a larger step stops the run here, before any change.
const lastRun = new pulumi.StackReference("bastide-last-run", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
const deployedNextcloud = (await lastRun.getOutputDetails(DEPLOYED_NEXTCLOUD_OUTPUT)).value as string | undefined;
// And what the host runs, which a new state or a volume restored from an older release can make differ.
// (Not under the offline harness, stacks/offline/mocks.ts, which sets bastide:offline and touches no engine.)
const readsHost = config.services.nextcloud.enabled && settings.getBoolean(OFFLINE_CONFIG) !== true;
const onHost = readsHost ? await runningNextcloudOn(config, (await lastRun.getOutputDetails("publicAddress")).value as string | undefined) : {};
if (onHost.unreadable) pulumi.log.info(`Nextcloud's upgrade step is checked against this stack's record only: the running Nextcloud could not be read (${onHost.unreadable}).`);
const upgradeProblem = config.services.nextcloud.enabled
  ? (nextcloudUpgradeProblem(deployedNextcloud, IMAGES.nextcloud, settings.getNumber(NEXTCLOUD_RESTORED_CONFIG)) ?? runningNextcloudProblem(onHost.running, IMAGES.nextcloud))
  : undefined;
if (upgradeProblem) throw new UpgradeRefused(upgradeProblem);
// `pulumi preview` starts with the plan in plain words, compared with the members the last
// `pulumi up` deployed (the stack's own `roster` output).
if (pulumi.runtime.isDryRun()) {
  const deployedRoster = (await lastRun.getOutputDetails(ROSTER_OUTPUT)).value as RosterEntry[] | undefined;
  pulumi.log.info(`\n${planSummary(config, deployedRoster && { roster: deployedRoster })}`);
}
const stack = new Bastide("bastide", { config, provided });

/** Who this run deploys (ids, names, teams), for the next preview's summary to compare with. */
export const roster = rosterOf(config);
export const urls = stack.urls;
export const publicAddress = stack.publicAddress;
/** Welcome sheets and VPN profiles for the admin to hand over, on this machine. */
export const handoverDirectory = stack.provisioning.handoverDirectory;
/** Generated credentials stay secret: `pulumi stack output --show-secrets serviceSecrets` reveals them. */
export const serviceSecrets = pulumi.secret(
  Object.fromEntries(Object.entries(stack.services).map(([name, s]) => [name, s.secrets])),
);
/**
 * Where members log in, the issuer every service trusts, and Keycloak's administrator of the
 * master realm (its console is on the VPN only): `pulumi stack output --show-secrets identity`.
 */
export const identity = stack.services.identity && {
  url: `https://${hostnames(config).identity}`,
  issuer: issuerOf(hostnames(config).identity),
  admin: { username: IDENTITY_ADMIN_USER, password: pulumi.secret(stack.services.identity.secrets[IDENTITY_SECRETS.admin]!) },
};
/** Not a secret: VPN peers need it in their configuration. */
export const vpnServerPublicKey = stack.services.vpn && pulumi.unsecret(stack.services.vpn.secrets[SERVER_KEY_SECRET]!.apply(serverPublicKey));
/**
 * Where the backups are and how to open them (layout.BACKUP_STACK_OUTPUT), for the emergency sheet:
 * the repository password is a secret (`pulumi stack output --show-secrets backups`).
 */
export const backups = stack.backups?.output;
/** The Nextcloud image this run deploys, kept while Nextcloud is off, so the next run can check its upgrade step. */
export const nextcloudImage = config.services.nextcloud.enabled ? IMAGES.nextcloud : deployedNextcloud;
