// What both cloud targets share: the server's name, the cloud-init document that
// turns a bare Debian 12 into a Docker host, and the wait until Docker answers.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { stringify } from "yaml";
import type { Association } from "../config/schema.ts";
import { LOG_ROTATION } from "../platform/component.ts";
import { render, json } from "../platform/templates.ts";
import type { HostSettings } from "./settings.ts";

export type CloudHost = Extract<HostSettings, { target: "hetzner" | "scaleway" }>;

export const MANAGED_BY = "bastide";

/** A valid host name (one DNS label) that says which association the server is for. */
export function serverName(config: Association): string {
  return `bastide-${config.domain.replaceAll(".", "-")}`.slice(0, 63).replace(/-+$/, "");
}

/** sshd reads its drop-ins first and keeps the first value: these win over any image default. */
const SSHD_KEY_ONLY = ["PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no", ""].join("\n");

/** Named after Debian's 20auto-upgrades so it is read later and wins, without touching that file. */
const APT_UNATTENDED = ['APT::Periodic::Update-Package-Lists "1";', 'APT::Periodic::Unattended-Upgrade "1";', ""].join("\n");

/** live-restore keeps the containers running while unattended-upgrades restarts dockerd. */
const DOCKER_DAEMON = `${json({ "live-restore": true, "log-driver": "json-file", "log-opts": LOG_ROTATION })}\n`;

/**
 * The cloud-config document for a new server. Root is the only login, by key:
 * the Docker provider connects as root, and a dedicated user in the docker group
 * would be root-equivalent anyway, so a second account would add a door, not a wall.
 * The user data is readable by any process on the VM through the metadata
 * service, so it carries nothing secret, only the admin's public key.
 */
export function cloudConfig(host: CloudHost): string {
  const document = {
    users: [{ name: "root", lock_passwd: true, ssh_authorized_keys: [host.sshPublicKey] }],
    disable_root: false,
    ssh_pwauth: false,
    write_files: [
      { path: "/etc/ssh/sshd_config.d/10-bastide.conf", content: SSHD_KEY_ONLY, owner: "root:root", permissions: "0644" },
      { path: "/etc/apt/apt.conf.d/21bastide-auto-upgrades", content: APT_UNATTENDED, owner: "root:root", permissions: "0644" },
      { path: "/etc/docker/daemon.json", content: DOCKER_DAEMON, owner: "root:root", permissions: "0644" },
    ],
    package_update: true,
    package_upgrade: true,
    // Debian's own Docker: security updates come from debian-security, like the rest.
    packages: ["docker.io", "unattended-upgrades"],
    runcmd: [
      ["systemctl", "enable", "--now", "docker"],
      ["systemctl", "try-reload-or-restart", "ssh"],
    ],
  };
  // YAML 1.1 is what cloud-init's PyYAML reads: "no" or "0644" stay strings.
  return `#cloud-config\n${stringify(document, { version: "1.1", lineWidth: 0 })}`;
}

export interface WaitLimits {
  attempts: number;
  pauseSeconds: number;
  connectTimeoutSeconds: number;
  cloudInitTimeoutSeconds: number;
}

/** About 20 minutes to boot and accept SSH, then 20 for cloud-init's packages. */
export const WAIT_LIMITS: WaitLimits = { attempts: 60, pauseSeconds: 10, connectTimeoutSeconds: 10, cloudInitTimeoutSeconds: 1200 };

export const waitForDockerScript = (limits: WaitLimits = WAIT_LIMITS) => render("host/wait-for-docker.sh", limits);

/**
 * Resolves once Docker answers on the server. It runs the admin's `ssh` rather than
 * a remote.Command: this version of @pulumi/command authenticates only with a
 * private key or password passed in (which would land in the state), not the agent.
 */
export function waitForDocker(
  name: string,
  address: pulumi.Input<string>,
  server: pulumi.CustomResource,
  parent: pulumi.Resource,
): command.local.Command {
  return new command.local.Command(
    name,
    {
      create: waitForDockerScript(),
      environment: { BASTIDE_SERVER: address },
      // A replaced server is a new machine: wait for it again.
      triggers: [server.id],
    },
    { parent, dependsOn: [server] },
  );
}
