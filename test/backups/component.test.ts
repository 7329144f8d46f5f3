// The backup job in the stack, under Pulumi's mocks: what it registers (its built image, its
// protected state volume, its container hardened like every service's, read-only mounts of the
// services' volumes, their private networks), its generated secrets kept secret everywhere, the
// S3 keys refused before anything is created when missing, and the policy pack's verdict.
import test from "ava";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { Association } from "../../stacks/config/schema.ts";
import { Bastide } from "../../stacks/bastide.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { volumeName } from "../../stacks/services/blueprint.ts";
import { ServiceComponent, hardening } from "../../stacks/platform/component.ts";
import { BackupsComponent, REPOSITORY_PASSWORD_LENGTH } from "../../stacks/backups/component.ts";
import { backupJob, type BackupJobBlueprint } from "../../stacks/backups/job.ts";
import { BACKUP_CONTAINER, SECRET_FILES, STATE_DIR, STATE_VOLUME } from "../../stacks/backups/layout.ts";
import { S3_ACCESS_KEY_CONFIG } from "../../stacks/backups/settings.ts";
import { suppliedSecrets } from "../../stacks/config/supplied.ts";
import { checkStack, type PolicyResource } from "../../policies/pack/checks.ts";
import { exampleAssociation } from "../support/association.ts";
import { formatTable, memorySummary, offlinePlan, planRows } from "../../stacks/offline/plan.ts";
import { memoryUse } from "../../stacks/config/sizing.ts";
import { CONTAINER, deployUnderMocks, ofType, registerUnderMocks, VOLUME, type Registered } from "../support/program.ts";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz";
const DESTINATIONS = {
  sftp: { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: HOST_KEY, country: "DE" },
  s3: { type: "s3", endpoint: "fsn1.your-objectstorage.com", bucket: "asso-exemple-backups", country: "DE" },
  disk: { type: "disk", path: "/mnt/backup" },
} as const;
type Kind = keyof typeof DESTINATIONS;

const withBackups = (kind: Kind) => exampleAssociation((i) => void (i.backups = { destination: { ...DESTINATIONS[kind] } }));
const S3_KEYS = { [S3_ACCESS_KEY_CONFIG.id]: "<secret:s3-id>", [S3_ACCESS_KEY_CONFIG.secret]: "<secret:s3-secret>" };

/** Every value that is or holds a placeholder secret must be a Pulumi secret where it is registered. */
function plainSecrets(resources: Registered[]): string[] {
  return resources.flatMap((r) => {
    const plain = Object.entries(r.inputs).filter(([key]) => !r.secretInputs.includes(key));
    return plain.filter(([, value]) => JSON.stringify(value ?? null).includes("<secret:")).map(([key]) => `${r.name}.${key}`);
  });
}

const jobContainer = (resources: Registered[]) => ofType(resources, CONTAINER).find((r) => r.name === BACKUP_CONTAINER);

/**
 * The job as the job's own module describes it, with what the `job` branch fills in made explicit
 * here: a database password from a service, a secret file of each kind and a plain one. The
 * component deploys whatever the interface says, so this is what it is held to.
 */
function fullJob(config: Association): BackupJobBlueprint {
  const job = backupJob(config, blueprints(config))!;
  return {
    ...job,
    env: { BASTIDE_BACKUP_TIME: config.backups!.time },
    serviceSecretEnv: { POLLS_DB_PASSWORD: { service: "polls", secret: "db-password" } },
    files: (secrets) => [
      { path: SECRET_FILES.repositoryPassword, content: secrets.repositoryPassword, holdsSecrets: true, mode: "0400" },
      ...(secrets.sshPrivateKey ? [{ path: SECRET_FILES.sshKey, content: secrets.sshPrivateKey, holdsSecrets: true, mode: "0400" }] : []),
      { path: "/etc/bastide-backups/plain.txt", content: "no secret here\n", holdsSecrets: false, mode: "0444" },
    ],
  };
}

/** The services and the job component alone, as Bastide wires them. */
async function deployJob(config: Association, job: BackupJobBlueprint, provided: Record<string, string> = {}) {
  let component: BackupsComponent | undefined;
  const resources = await registerUnderMocks(() => {
    const provider = new docker.Provider("docker", {});
    const edgeNetwork = new docker.Network("edge", { name: "bastide-edge" }, { provider });
    const services: Record<string, ServiceComponent> = {};
    for (const blueprint of blueprints(config))
      services[blueprint.service] = new ServiceComponent({ config, blueprint, provider, edgeNetwork, publicAddress: "203.0.113.1", provided });
    component = new BackupsComponent("backups", { config, settings: config.backups!, job, provider, services, provided });
  });
  return { resources, component: component! };
}

test.serial("with an SFTP destination: the built image, the protected state volume, the generated password and SSH key, the container", async (t) => {
  const config = withBackups("sftp");
  const { resources, component } = await deployJob(config, fullJob(config));
  const image = ofType(resources, "docker:index/image:Image").find((r) => r.name === "backups-image");
  t.like(image?.inputs, { imageName: backupJob(config, blueprints(config))!.image, build: { context: "docker/backups" }, skipPush: true });

  const state = ofType(resources, VOLUME).find((r) => r.name === STATE_VOLUME)!;
  t.like(state, { protect: true, retainOnDelete: true, inputs: { name: STATE_VOLUME } });

  const password = resources.find((r) => r.name === "backups-repository-password")!;
  t.true(password.inputs.length >= REPOSITORY_PASSWORD_LENGTH && REPOSITORY_PASSWORD_LENGTH >= 64);
  t.like(resources.find((r) => r.type === "tls:index/privateKey:PrivateKey")?.inputs, { algorithm: "ED25519" });

  const container = jobContainer(resources)!;
  t.is(container.inputs.image, image!.inputs.imageName);
  t.deepEqual(container.inputs.command, backupJob(config, blueprints(config))!.command);
  // The job's password file holds the generated password; the SSH key its private half.
  const uploads = container.inputs.uploads as { file: string; content: string; permissions: string }[];
  t.deepEqual(
    uploads.map((u) => [u.file, u.content, u.permissions]),
    [
      [SECRET_FILES.repositoryPassword, "<secret:backups-repository-password>", "0400"],
      [SECRET_FILES.sshKey, "<secret:backups-ssh-key>", "0400"],
      ["/etc/bastide-backups/plain.txt", "no secret here\n", "0444"],
    ],
  );
  t.deepEqual(container.secretFiles, [SECRET_FILES.repositoryPassword, SECRET_FILES.sshKey], "the plain file stays readable in a preview");
  t.true((container.inputs.envs as string[]).includes("POLLS_DB_PASSWORD=<secret:polls-db-password>"));
  t.true((container.inputs.envs as string[]).includes("BASTIDE_BACKUP_TIME=02:30"));
  t.deepEqual(plainSecrets(resources), []);

  // The output the emergency sheet reads: the address, the password (secret), the public key to install, the country.
  const output = component.output;
  t.is(output.repository, "sftp://u123456@u123456.your-storagebox.de:22//backups/bastide");
  t.is(output.country, "DE");
  t.true(await pulumi.isSecret(output.repositoryPassword));
  t.false(await pulumi.isSecret(output.sshPublicKey!), "the public key is for the SFTP server's authorized_keys");
  t.regex(String(await new Promise((resolve) => output.sshPublicKey!.apply(resolve))), /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA{43} backups-ssh-key$/);
});

test.serial("the job's container is hardened exactly as the service containers are", async (t) => {
  const resources = await deployUnderMocks(withBackups("sftp"));
  const job = jobContainer(resources)!;
  const hardenedKeys = Object.keys(hardening(1)) as (keyof ReturnType<typeof hardening>)[];
  const expected = hardening(backupJob(withBackups("sftp"), blueprints(withBackups("sftp")))!.memoryMb);
  for (const key of hardenedKeys) t.deepEqual(job.inputs[key], expected[key], key);
  const cloud = ofType(resources, CONTAINER).find((r) => r.name === "bastide-nextcloud-app")!;
  for (const key of hardenedKeys.filter((k) => k !== "memory" && k !== "memorySwap")) t.deepEqual(job.inputs[key], cloud.inputs[key], `${key} as Nextcloud's`);
  t.is(job.inputs.capabilities, undefined, "no capability added");
  t.is(job.inputs.user, undefined);
  t.false(JSON.stringify(job.inputs.volumes).includes("docker.sock"));
  // With the job's own files and variables, whatever they are: no secret outside a Pulumi secret.
  t.deepEqual(plainSecrets(resources), []);
});

test.serial("the job reads every volume the plan saves read-only, writes only its state, and joins the databases' private networks", async (t) => {
  const config = withBackups("sftp");
  const job = backupJob(config, blueprints(config))!;
  const resources = await deployUnderMocks(config);
  const container = jobContainer(resources)!;
  const volumes = container.inputs.volumes as { volumeName: string; containerPath: string; readOnly: boolean; hostPath?: string }[];
  t.deepEqual(
    volumes.filter((v) => v.readOnly).map((v) => [v.volumeName, v.containerPath]),
    job.mounts.map((m) => [volumeName(m.service, m.volume), m.path]),
  );
  t.true(job.mounts.length > 0);
  t.deepEqual(volumes.filter((v) => !v.readOnly), [{ volumeName: STATE_VOLUME, containerPath: STATE_DIR, readOnly: false }]);
  const networks = (container.inputs.networksAdvanced as { name: string }[]).map((n) => n.name);
  t.deepEqual(networks, [...job.networks.map((s) => `bastide-${s}`), BACKUP_CONTAINER], "the services' private networks, then its own way out");
  t.true(job.networks.length > 0);
  // Its container waits for the volumes and networks it uses, and for the pre-upgrade backup.
  const urnOf = (name: string) => resources.find((r) => r.name === name)!.urn;
  const awaited = [STATE_VOLUME, ...job.networks.map((s) => `${s}-internal`), ...job.mounts.map((m) => volumeName(m.service, m.volume)), "pre-upgrade-backup"];
  t.deepEqual(awaited.filter((name) => !container.dependencies.includes(urnOf(name))), []);
});

test.serial("a second disk is mounted at its path for restic; S3 keys come from the admin's secrets, as secrets", async (t) => {
  const disk = jobContainer(await deployUnderMocks(withBackups("disk")))!;
  t.true((disk.inputs.volumes as { hostPath?: string; containerPath: string }[]).some((v) => v.hostPath === "/mnt/backup" && v.containerPath === "/mnt/backup"));
  t.false((disk.inputs.networksAdvanced as { name: string }[]).some((n) => n.name === BACKUP_CONTAINER), "no way out for a local disk");

  const resources = await deployUnderMocks(withBackups("s3"), S3_KEYS);
  const s3 = jobContainer(resources)!;
  t.true(s3.secretInputs.includes("envs"));
  t.true((s3.inputs.envs as string[]).includes("AWS_ACCESS_KEY_ID=<secret:s3-id>"));
  t.true((s3.inputs.envs as string[]).includes("AWS_SECRET_ACCESS_KEY=<secret:s3-secret>"));
  t.deepEqual(plainSecrets(resources), []);
  t.false(resources.some((r) => r.type === "tls:index/privateKey:PrivateKey"), "no SSH key without an SFTP server");
  const { component } = await deployJob(withBackups("s3"), fullJob(withBackups("s3")), S3_KEYS);
  t.true(await pulumi.isSecret(component.output.s3AccessKeyId!), "the access key id, as supplied: a secret");
  t.is(await new Promise((resolve) => component.output.s3AccessKeyId!.apply(resolve)), "<secret:s3-id>");
  t.is(component.output.sshPrivateKey, undefined);
});

test.serial("missing S3 keys are refused before anything is registered, naming the config key and the command that sets it", async (t) => {
  const config = withBackups("s3");
  t.deepEqual(
    suppliedSecrets(config).map((s) => s.configKey),
    [S3_ACCESS_KEY_CONFIG.id, S3_ACCESS_KEY_CONFIG.secret],
    "pulumi up reads them (stacks/index.ts), npm run plan -- --secret-keys lists them",
  );
  let error: unknown;
  const registered = await registerUnderMocks(() => {
    try {
      new Bastide("bastide", { config, provided: { [S3_ACCESS_KEY_CONFIG.id]: "<secret:s3-id>" } });
    } catch (e) {
      error = e;
    }
  });
  t.deepEqual(registered, []);
  t.is(
    (error as Error).message,
    `backups need the secret "${S3_ACCESS_KEY_CONFIG.secret}", which was not supplied: run npm run pulumi -- config set --secret bastide:${S3_ACCESS_KEY_CONFIG.secret} '<value>'`,
  );
});

test.serial("without backups: no job, no state volume, no pre-upgrade backup", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation());
  t.is(jobContainer(resources), undefined);
  t.false(resources.some((r) => r.name === STATE_VOLUME || r.name === "pre-upgrade-backup" || r.type.startsWith("bastide:backups")));
});

const asPolicy = (resources: Registered[]): PolicyResource[] =>
  resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, protect: r.protect, retainOnDelete: r.retainOnDelete }));

for (const kind of Object.keys(DESTINATIONS) as Kind[]) {
  test.serial(`the policy pack accepts the stack with backups to ${kind}`, async (t) => {
    const resources = await deployUnderMocks(withBackups(kind), kind === "s3" ? S3_KEYS : {});
    t.truthy(jobContainer(resources));
    t.deepEqual(checkStack(asPolicy(resources)), []);
  });
}

test.serial("the policy pack still refuses the job's container when it is made unsafe", async (t) => {
  const resources = asPolicy(await deployUnderMocks(withBackups("sftp")));
  const edited = (change: (props: Record<string, any>) => Record<string, any>) =>
    checkStack(resources.map((r) => (r.name === BACKUP_CONTAINER ? { ...r, props: change(r.props) } : r)));
  const refused = (policy: string, found: ReturnType<typeof edited>) => found.some((v) => v.policy === policy && v.message.includes(BACKUP_CONTAINER));
  t.true(refused("no-extra-privileges", edited((p) => ({ ...p, privileged: true }))));
  t.true(refused("no-extra-privileges", edited((p) => ({ ...p, securityOpts: [] }))));
  t.true(refused("no-extra-privileges", edited((p) => ({ ...p, volumes: [...p.volumes, { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }] }))));
  t.true(refused("no-extra-privileges", edited((p) => ({ ...p, capabilities: { adds: ["SYS_ADMIN"] } }))));
  t.true(refused("pinned-images", edited((p) => ({ ...p, image: "bastide/backups:latest" }))));
  const state = checkStack(resources.map((r) => (r.name === STATE_VOLUME ? { ...r, protect: false } : r)));
  t.true(state.some((v) => v.policy === "protected-volumes" && v.message.includes(STATE_VOLUME)));
});

test.serial("npm run plan shows the job's resources in its table", async (t) => {
  const config = withBackups("sftp");
  const table = formatTable(planRows(await offlinePlan(config)));
  t.regex(table, /docker:Container\s+bastide-backups\n\s+bastide\/backups:/);
  t.regex(table, /docker:Volume\s+bastide-backups-state\n\s+protected/);
  t.regex(table, /pre-upgrade-backup/);
  t.regex(table, /random:RandomPassword\s+backups-repository-password/);
  t.regex(table, /tls:PrivateKey\s+backups-ssh-key/);
});

test("the job's memory limit counts in the profile's budget", (t) => {
  const without = memoryUse(exampleAssociation());
  const withJob = memoryUse(withBackups("disk"));
  const { memoryMb } = backupJob(withBackups("disk"), blueprints(withBackups("disk")))!;
  t.deepEqual(withJob.slice(0, without.length), without);
  t.deepEqual(withJob.slice(without.length), [{ container: "backups/job", memoryMb }]);
  t.regex(memorySummary(withBackups("disk")), new RegExp(`memory limits: ${without.reduce((s, c) => s + c.memoryMb, 0) + memoryMb} MiB`));
});
