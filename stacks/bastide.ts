// The whole stack as one component: a host, the edge network, then one
// ServiceComponent per enabled service, the proxy last.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { Association } from "./config/schema.ts";
import { blueprints } from "./services/catalog.ts";
import type { ServiceName } from "./services/blueprint.ts";
import { ServiceComponent } from "./platform/component.ts";
import { EDGE_NETWORK } from "./platform/network.ts";
import { createHost } from "./host/index.ts";
import { dockerTargetOf, Provisioning } from "./provisioning/index.ts";
import { stackFacts } from "../policies/pack/facts.ts";
import { backupJob } from "./backups/job.ts";
import { BackupsComponent } from "./backups/component.ts";
import { PreUpgradeBackup } from "./backups/pre-upgrade.ts";
import { suppliedSecrets } from "./config/supplied.ts";

export interface BastideArgs {
  /** Already validated: see config/load.ts. */
  config: Association;
  /** Secrets the admin supplied through Pulumi's secret config, by name. */
  provided?: Record<string, pulumi.Input<string>>;
}

export class Bastide extends pulumi.ComponentResource {
  readonly services: Partial<Record<ServiceName, ServiceComponent>> = {};
  readonly urls: Record<string, string>;
  readonly publicAddress: pulumi.Output<string>;
  readonly provisioning: Provisioning;
  /** The backup job, when the file asks for backups. */
  readonly backups?: BackupsComponent;
  /** The backup every data-holding container waits for when its image changes. */
  readonly preUpgradeBackup?: PreUpgradeBackup;

  constructor(name: string, args: BastideArgs, opts?: pulumi.ComponentResourceOptions) {
    const { config } = args;
    const all = blueprints(config);
    // Checked before anything is registered: nothing is half-built for want of a secret.
    // One line per secret, naming every service that needs it (the relay's password serves several).
    const needing = new Map<string, string[]>();
    for (const b of all) for (const s of b.providedSecrets ?? []) if (args.provided?.[s] === undefined) needing.set(s, [...(needing.get(s) ?? []), b.service]);
    const missing = [...needing].map(([s, services]) => `${services.join(" and ")} ${services.length > 1 ? "need" : "needs"} the secret "${s}", which was not supplied`);
    const job = backupJob(config, all);
    const commands = new Map(suppliedSecrets(config).map((s) => [s.name, s.command]));
    for (const name of Object.values(job?.providedSecretEnv ?? {}))
      if (args.provided?.[name] === undefined) missing.push(`backups need the secret "${name}", which was not supplied: run ${commands.get(name)}`);
    if (missing.length > 0) throw new Error(missing.join("; "));
    // What the policy pack checks the resources against: host country, federation reason, the register.
    const policyFacts = stackFacts(config);
    super("bastide:index:Bastide", name, { policyFacts }, opts);
    const host = createHost(config, this);
    this.publicAddress = host.publicAddress;

    const edgeNetwork = new docker.Network(
      "edge",
      {
        name: EDGE_NETWORK.name,
        driver: "bridge",
        ipamConfigs: [{ subnet: EDGE_NETWORK.subnet, gateway: EDGE_NETWORK.gateway }],
      },
      { parent: this, provider: host.provider },
    );

    const dockerTarget = dockerTargetOf(config, host.publicAddress);
    // Before any container is replaced for a new image, the backup job saves the data (backups/pre-upgrade.ts).
    const gate = job && new PreUpgradeBackup("pre-upgrade-backup", { blueprints: all, docker: dockerTarget, configFile: new pulumi.Config("bastide").get("config") }, { parent: this });
    this.preUpgradeBackup = gate;

    const backends: ServiceComponent[] = [];
    for (const blueprint of all) {
      const isProxy = blueprint.service === "proxy";
      const component = new ServiceComponent(
        // The proxy starts last so that its first certificate requests find the services up.
        { config, blueprint, provider: host.provider, edgeNetwork, publicAddress: host.publicAddress, provided: args.provided, after: [...(gate ? [gate] : []), ...(isProxy ? backends : [])] },
        { parent: this },
      );
      this.services[blueprint.service] = component;
      if (!isProxy) backends.push(component);
    }

    if (job && config.backups)
      this.backups = new BackupsComponent(
        "backups",
        { config, settings: config.backups, job, provider: host.provider, services: this.services, provided: args.provided, after: gate ? [gate] : [] },
        { parent: this },
      );

    // Accounts, groups, calendars, rooms and peers, once the containers are healthy.
    this.provisioning = new Provisioning(
      "provisioning",
      { config, services: this.services, docker: dockerTarget },
      { parent: this },
    );

    this.urls = Object.fromEntries(all.flatMap((b) => b.routes.map((r) => [r.host.split(".")[0]!, `https://${r.host}`])));
    this.registerOutputs({ urls: this.urls, publicAddress: this.publicAddress, policyFacts });
  }
}
