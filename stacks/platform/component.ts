// Applies a service blueprint with the Docker provider. Every container gets the
// same hardening here, in one place, so no service can forget it: pinned image,
// memory limit, rotated logs, no privilege escalation, a health check that
// `pulumi up` waits for, and data volumes that `pulumi destroy` will not remove.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import type { Association } from "../config/schema.ts";
import { PUBLIC_ADDRESS } from "../services/catalog.ts";
import {
  containerName,
  volumeName,
  type ContainerBlueprint,
  type RenderedFile,
  type ServiceBlueprint,
} from "../services/blueprint.ts";
import { BUILT_IMAGES } from "../services/images.ts";

/** Docker's json-file driver, rotated: the DPO's register promises bounded logs. */
export const LOG_ROTATION = { "max-size": "10m", "max-file": "3" } as const;

export interface ServiceComponentArgs {
  config: Association;
  blueprint: ServiceBlueprint;
  provider: docker.Provider;
  edgeNetwork: docker.Network;
  /** The server's public address, known only once a cloud VM exists. */
  publicAddress: pulumi.Input<string>;
  /** Secrets the admin supplied, by name; each component takes those its blueprint asks for. */
  provided?: Record<string, pulumi.Input<string>>;
  /** Components whose containers must be up first. Pulumi does not pass a component's
   * own dependsOn down to its children, so the containers are told directly. */
  after?: pulumi.Resource[];
}

const seconds = (s: number | undefined) => (s === undefined ? undefined : `${s}s`);

/**
 * What every Bastide container gets, whoever deploys it (a service, the backup job): restarted
 * by Docker, bounded memory with no swap beyond it, no privilege and no way to gain one, rotated logs.
 */
export function hardening(memoryMb: number) {
  return {
    restart: "unless-stopped",
    memory: memoryMb,
    memorySwap: memoryMb,
    privileged: false,
    securityOpts: ["no-new-privileges:true"],
    logDriver: "json-file",
    logOpts: { ...LOG_ROTATION },
  } satisfies Partial<docker.ContainerArgs>;
}

/** An image Bastide builds from its own pinned Dockerfile (BUILT_IMAGES), kept on the host: never pushed. */
export function builtImage(resourceName: string, build: keyof typeof BUILT_IMAGES, imageName: string, opts: pulumi.CustomResourceOptions): docker.Image {
  const { context } = BUILT_IMAGES[build];
  return new docker.Image(resourceName, { imageName, build: { context, platform: "linux/amd64" }, skipPush: true }, opts);
}

/** Replaces the public-address marker, which blueprints use because they are pure. */
const withPublicAddress = (text: string, address: pulumi.Input<string>): pulumi.Input<string> =>
  text.includes(PUBLIC_ADDRESS) ? pulumi.output(address).apply((a) => text.split(PUBLIC_ADDRESS).join(a)) : text;

export class ServiceComponent extends pulumi.ComponentResource {
  /** Generated secrets by name; each is a Pulumi secret. */
  readonly secrets: Record<string, pulumi.Output<string>>;
  readonly containers: Record<string, docker.Container>;
  readonly volumes: Record<string, docker.Volume>;
  /** The service's private network, when its containers have one: the backup job joins it to reach the database. */
  readonly internalNetwork: docker.Network | undefined;
  /** Public URLs of this service, for the stack outputs. */
  readonly urls: string[];

  constructor(args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    const { blueprint, provider } = args;
    super(`bastide:service:${blueprint.service}`, blueprint.service, {}, { ...opts, providers: [provider] });
    const child = { parent: this, provider };

    const provided = Object.fromEntries(
      (blueprint.providedSecrets ?? []).map((name) => {
        const value = args.provided?.[name];
        if (value === undefined) throw new Error(`${blueprint.service} needs the secret "${name}", which was not supplied`);
        return [name, pulumi.secret(value)];
      }),
    );
    this.secrets = {
      ...Object.fromEntries(
        blueprint.secrets.map((s) => [
          s.name,
          new random.RandomPassword(`${blueprint.service}-${s.name}`, { length: s.length, special: false }, { parent: this }).result,
        ]),
      ),
      ...provided,
    };

    this.volumes = Object.fromEntries(
      blueprint.volumes.map((v) => [
        v.name,
        new docker.Volume(
          volumeName(blueprint.service, v.name),
          { name: volumeName(blueprint.service, v.name), labels: [{ label: "bastide.holds", value: v.holds }] },
          // Data outlives the stack: destroy refuses while protected, and even then leaves the volume.
          { ...child, protect: true, retainOnDelete: true },
        ),
      ]),
    );

    const internal = (this.internalNetwork = blueprint.containers.some((c) => c.networks.includes("internal"))
      ? new docker.Network(
          `${blueprint.service}-internal`,
          { name: `bastide-${blueprint.service}`, internal: true, driver: "bridge" },
          child,
        )
      : undefined);

    const files = pulumi
      .all([pulumi.all(this.secrets), args.publicAddress])
      .apply(([values, address]) =>
        blueprint.files(values).map((f) => ({ ...f, content: f.content.split(PUBLIC_ADDRESS).join(address) })),
      );

    this.containers = {};
    for (const spec of blueprint.containers) {
      const dependsOn = [...(spec.dependsOn ?? []).map((name) => this.containers[name]!).filter(Boolean), ...(args.after ?? [])];
      this.containers[spec.name] = this.container(spec, args, internal, files, dependsOn);
    }

    this.urls = blueprint.routes.map((r) => `https://${r.host}`);
    this.registerOutputs({ urls: this.urls, secrets: this.secrets });
  }

  private container(
    spec: ContainerBlueprint,
    args: ServiceComponentArgs,
    internal: docker.Network | undefined,
    files: pulumi.Output<RenderedFile[]>,
    dependsOn: pulumi.Resource[],
  ): docker.Container {
    const { blueprint, provider, edgeNetwork } = args;
    const service = blueprint.service;
    const child = { parent: this, provider };
    const image = this.image(service, spec, child);

    const env = [
      ...Object.entries(spec.env ?? {}).map(([k, v]) => pulumi.output(withPublicAddress(v, args.publicAddress)).apply((value) => `${k}=${value}`)),
      ...Object.entries(spec.secretEnv ?? {}).map(([k, secret]) => {
        const value = this.secrets[secret];
        if (!value) throw new Error(`${service}/${spec.name}: secretEnv ${k} names an unknown secret "${secret}"`);
        return pulumi.secret(pulumi.interpolate`${k}=${value}`);
      }),
    ];

    // Rendering once with placeholders tells, before any secret exists, which files embed one.
    const shapes = blueprint.files(Object.fromEntries(Object.keys(this.secrets).map((name) => [name, `<secret:${name}>`])));
    const uploads = (spec.files ?? []).map((path) => {
      const shape = shapes.find((f) => f.container === spec.name && f.path === path);
      if (!shape) throw new Error(`${service}/${spec.name}: no rendered file for ${path}`);
      if (!shape.holdsSecrets && shape.content.includes("<secret:"))
        throw new Error(`${service}/${spec.name}: ${path} embeds a secret but is not marked holdsSecrets`);
      // Plain files stay readable in `pulumi preview`; only files with secrets are derived from them.
      const content = shape.holdsSecrets
        ? pulumi.secret(files.apply((all) => all.find((f) => f.container === spec.name && f.path === path)!.content))
        : withPublicAddress(shape.content, args.publicAddress);
      return { file: path, content, permissions: shape.mode };
    });

    const networks = [
      ...(spec.networks.includes("edge") ? [{ name: edgeNetwork.name, aliases: spec.aliases, ipv4Address: spec.edgeAddress }] : []),
      ...(spec.networks.includes("internal") && internal ? [{ name: internal.name, aliases: spec.aliases }] : []),
    ];

    return new docker.Container(
      containerName(service, spec.name),
      {
        name: containerName(service, spec.name),
        image,
        ...hardening(spec.memoryMb[args.config.profile]),
        envs: env,
        entrypoints: spec.entrypoint,
        command: spec.command,
        ports: (spec.ports ?? []).map((p) => ({ internal: p.port, external: p.port, protocol: p.protocol })),
        volumes: (spec.volumes ?? []).map((v) => ({
          volumeName: this.volumes[v.volume]?.name ?? missing(`${service}/${spec.name}: volume "${v.volume}" is not declared`),
          containerPath: v.path,
          readOnly: v.readOnly,
        })),
        tmpfs: spec.tmpfs && Object.fromEntries(spec.tmpfs.map((t) => [t.path, t.options])),
        user: spec.user,
        networksAdvanced: networks,
        uploads,
        capabilities: spec.addCapabilities ? { adds: spec.addCapabilities } : undefined,
        sysctls: spec.sysctls,
        healthcheck: spec.healthcheck && {
          tests: spec.healthcheck.test,
          interval: seconds(spec.healthcheck.intervalSeconds ?? 30),
          retries: spec.healthcheck.retries ?? 3,
          startPeriod: seconds(spec.healthcheck.startPeriodSeconds),
          timeout: "10s",
        },
        // `pulumi up` returns once the service is healthy, so provisioning can follow.
        wait: spec.healthcheck !== undefined,
        waitTimeout: 600,
        labels: [
          { label: "bastide.service", value: service },
          { label: "bastide.container", value: spec.name },
        ],
      },
      { ...child, dependsOn },
    );
  }

  private readonly builtImages = new Map<string, docker.Image>();

  private image(service: string, spec: ContainerBlueprint, child: pulumi.CustomResourceOptions): pulumi.Output<string> {
    if (spec.build) {
      // Several containers may run one built image (polls' app and purge): build it once.
      let built = this.builtImages.get(spec.build);
      if (!built) {
        built = builtImage(`${service}-${spec.build}-image`, spec.build, spec.image, child);
        this.builtImages.set(spec.build, built);
      }
      return built.imageName;
    }
    return new docker.RemoteImage(`${service}-${spec.name}-image`, { name: spec.image, keepLocally: true }, child).imageId;
  }
}

function missing(message: string): never {
  throw new Error(message);
}
