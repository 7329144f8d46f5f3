// The backup job in the stack: the container `backupJob` describes (stacks/backups/job.ts), its
// image built from docker/backups, its own state volume, and the secrets it generates: the
// repository's password and, for an SFTP destination, the server's SSH key. The container gets
// the hardening every service container gets (platform/component.ts), reads the services' volumes
// read-only, and joins the private networks of the services whose database it dumps.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { Association } from "../config/schema.ts";
import type { ServiceName } from "../services/blueprint.ts";
import { BUILT_IMAGES } from "../services/images.ts";
import { builtImage, hardening, type ServiceComponent } from "../platform/component.ts";
import { hostCountry } from "../host/settings.ts";
import type { BackupJobBlueprint, JobSecrets } from "./job.ts";
import { BACKUP_CONTAINER, STATE_DIR, STATE_VOLUME } from "./layout.ts";
import { repositoryAddress } from "./restic.ts";
import { S3_ACCESS_KEY_CONFIG, type BackupSettings } from "./settings.ts";

/** Long enough that the repository's key cannot be guessed, whatever restic's key derivation. */
export const REPOSITORY_PASSWORD_LENGTH = 64;

export interface BackupsComponentArgs {
  config: Association;
  settings: BackupSettings;
  job: BackupJobBlueprint;
  provider: docker.Provider;
  /** The deployed services: their volumes, private networks and generated secrets. */
  services: Partial<Record<ServiceName, ServiceComponent>>;
  /** Secrets the admin supplied (the S3 keys), by the names the job asks for. */
  provided?: Record<string, pulumi.Input<string>>;
  /** Resources the job's container waits for: the pre-upgrade backup runs in the job as it was before this run. */
  after?: pulumi.Resource[];
}

/** What the emergency sheet and the handover page need (stack output layout.BACKUP_STACK_OUTPUT). */
export interface BackupOutput {
  /** restic's repository address. */
  repository: string;
  repositoryPassword: pulumi.Output<string>;
  /** SFTP only: the key to install in the SFTP account's authorized_keys. */
  sshPublicKey?: pulumi.Output<string>;
  /** SFTP only, a secret: what `npm run restore` logs in with from a new server. */
  sshPrivateKey?: pulumi.Output<string>;
  /** S3 only, a secret as the admin supplied it: which access key the emergency sheet names. */
  s3AccessKeyId?: pulumi.Output<string>;
  /** Where the backups are kept; for a second disk, the server's country (absent for a local machine). */
  country?: string;
}

const fail = (message: string): never => {
  throw new Error(message);
};

export class BackupsComponent extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly stateVolume: docker.Volume;
  readonly output: BackupOutput;

  constructor(name: string, args: BackupsComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    const { job, settings, provider, services } = args;
    super("bastide:backups:Backups", name, {}, { ...opts, providers: [provider] });
    const child = { parent: this, provider };
    const destination = settings.destination;

    const repositoryPassword = new random.RandomPassword("backups-repository-password", { length: REPOSITORY_PASSWORD_LENGTH, special: false }, { parent: this }).result;
    const sshKey = destination.type === "sftp" ? new tls.PrivateKey("backups-ssh-key", { algorithm: "ED25519" }, { parent: this }) : undefined;
    const secrets = {
      repositoryPassword: pulumi.secret(repositoryPassword),
      sshPrivateKey: sshKey && pulumi.secret(sshKey.privateKeyOpenssh),
    } satisfies Record<keyof JobSecrets, pulumi.Output<string> | undefined>;

    const prefix = `${BUILT_IMAGES.backups.name}:`;
    if (!job.image.startsWith(prefix)) fail(`backups: the job's image ${job.image} is not built from docker/backups (${prefix}<version>)`);
    const image = builtImage("backups-image", "backups", job.image, child);

    this.stateVolume = new docker.Volume(
      STATE_VOLUME,
      { name: STATE_VOLUME, labels: [{ label: "bastide.holds", value: "the backup job's status and the restore drills' records" }] },
      // Like the services' volumes: destroy refuses while protected, and even then leaves it.
      { ...child, protect: true, retainOnDelete: true },
    );

    const service = (name: ServiceName, why: string) => services[name] ?? fail(`backups: the job ${why} of ${name}, which is not deployed`);
    const volumes = [
      ...job.mounts.map((m) => ({
        volumeName: (service(m.service, `reads volume ${m.volume}`).volumes[m.volume] ?? fail(`backups: ${m.service} declares no volume ${m.volume}`)).name,
        containerPath: m.path,
        readOnly: true,
      })),
      { volumeName: this.stateVolume.name, containerPath: STATE_DIR, readOnly: false },
    ];
    // A second disk is the repository itself, at the same path inside the container.
    const disk = destination.type === "disk" ? [{ hostPath: destination.path, containerPath: destination.path, readOnly: false }] : [];

    const networks = job.networks.map((name) => ({
      name: (service(name, "dumps the database").internalNetwork ?? fail(`backups: ${name} has no private network for the job to reach its database`)).name,
    }));
    // The services' networks are internal (no way out): the job reaches an SFTP or S3 destination through its own.
    if (destination.type !== "disk") {
      const egress = new docker.Network("backups-egress", { name: BACKUP_CONTAINER, driver: "bridge" }, child);
      networks.push({ name: egress.name });
    }

    const env = [
      ...Object.entries(job.env).map(([k, v]) => `${k}=${v}`),
      ...Object.entries(job.serviceSecretEnv).map(([k, { service: name, secret }]) => {
        const value = service(name, `needs the secret ${secret}`).secrets[secret] ?? fail(`backups: ${name} generates no secret "${secret}" for ${k}`);
        return pulumi.secret(pulumi.interpolate`${k}=${value}`);
      }),
      ...Object.entries(job.providedSecretEnv).map(([k, name]) => {
        const value = args.provided?.[name] ?? fail(`backups need the secret "${name}", which was not supplied`);
        return pulumi.secret(pulumi.interpolate`${k}=${value}`);
      }),
    ];

    // Rendered once with placeholders, before any secret exists, to tell which files embed one.
    const shapes = job.files({ repositoryPassword: "<secret:repositoryPassword>", ...(sshKey ? { sshPrivateKey: "<secret:sshPrivateKey>" } : {}) });
    const rendered = pulumi
      .all([secrets.repositoryPassword, secrets.sshPrivateKey ?? pulumi.output(undefined)])
      .apply(([password, key]) => job.files({ repositoryPassword: password, ...(key !== undefined ? { sshPrivateKey: key } : {}) }));
    const uploads = shapes.map((shape) => {
      if (!shape.holdsSecrets && shape.content.includes("<secret:")) fail(`backups: ${shape.path} embeds a secret but is not marked holdsSecrets`);
      const content = shape.holdsSecrets ? pulumi.secret(rendered.apply((all) => all.find((f) => f.path === shape.path)!.content)) : shape.content;
      return { file: shape.path, content, permissions: shape.mode };
    });

    this.container = new docker.Container(
      BACKUP_CONTAINER,
      {
        name: BACKUP_CONTAINER,
        image: image.imageName,
        ...hardening(job.memoryMb),
        envs: env,
        command: job.command,
        volumes: [...volumes, ...disk],
        networksAdvanced: networks,
        uploads,
        labels: [{ label: "bastide.job", value: "backups" }],
      },
      { ...child, dependsOn: args.after ?? [] },
    );

    this.output = {
      repository: repositoryAddress(destination),
      repositoryPassword: secrets.repositoryPassword,
      ...(sshKey ? { sshPublicKey: sshKey.publicKeyOpenssh, sshPrivateKey: secrets.sshPrivateKey! } : {}),
      ...(destination.type === "s3" ? { s3AccessKeyId: pulumi.secret(args.provided?.[S3_ACCESS_KEY_CONFIG.id] ?? fail(`backups need the secret "${S3_ACCESS_KEY_CONFIG.id}", which was not supplied`)) } : {}),
      ...(countryOf(args.config, destination) ? { country: countryOf(args.config, destination) } : {}),
    };
    this.registerOutputs({ output: this.output });
  }
}

function countryOf(config: Association, destination: BackupSettings["destination"]): string | undefined {
  return destination.type === "disk" ? hostCountry(config.host) : destination.country;
}
