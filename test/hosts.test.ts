// The cloud host targets: the firewall derived from the blueprints, the cloud-init
// document (checked by cloud-init's own schema validator), the wait for Docker
// (run for real against a fake ssh), and the resource graph under Pulumi mocks.
import test, { type ExecutionContext } from "ava";
import * as pulumi from "@pulumi/pulumi";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { exampleAssociation, exampleInput } from "./support/association.ts";
import { deployUnderMocks, ofType, type Registered } from "./support/program.ts";
import { requireProgram, run, scratch } from "./support/programs.ts";
import { ANYWHERE, asCidr, firewallRules, rulesFor } from "../stacks/host/firewall.ts";
import { cloudConfig, serverName, waitForDockerScript, type CloudHost } from "../stacks/host/cloud.ts";
import { hetznerFirewallRules } from "../stacks/host/hetzner.ts";
import { scalewayInboundRules } from "../stacks/host/scaleway.ts";
import { ConfigError, loadAssociation } from "../stacks/config/load.ts";
import { LOG_ROTATION } from "../stacks/platform/component.ts";
import type { ServiceBlueprint } from "../stacks/services/blueprint.ts";

const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc3RpZGUtdGVzdC1rZXktbm90LWEtcmVhbC1vbmU admin";
const ADMIN_NET = "203.0.113.7/32";

const HETZNER = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: ADMIN_KEY, adminAddresses: [ADMIN_NET] };
const SCALEWAY = { target: "scaleway", zone: "fr-par-1", sshPublicKey: ADMIN_KEY, adminAddresses: [ADMIN_NET] };

const onHetzner = (edit: (input: Record<string, any>) => void = () => {}) =>
  exampleAssociation((input) => {
    input.host = { ...HETZNER };
    edit(input);
  });

/** The example without VPN devices, so that the VPN may be turned off. */
const withoutDevices = (input: Record<string, any>) => {
  for (const member of input.members) delete member.devices;
};

const portsOf = (rules: { port: number; protocol: string }[]) => rules.map((r) => `${r.port}/${r.protocol}`);

// ---------------------------------------------------------------- firewall

test("the example's firewall: SSH from the admin's network only, the services' ports from anywhere, nothing else", (t) => {
  const config = onHetzner();
  const rules = firewallRules(config);
  t.deepEqual(portsOf(rules), ["22/tcp", "80/tcp", "443/tcp", "10000/udp", `${config.services.vpn.port}/udp`]);
  t.deepEqual(rules[0]!.sources, [ADMIN_NET]);
  for (const rule of rules.slice(1)) {
    t.deepEqual(rule.sources, [...ANYWHERE], `${rule.port}/${rule.protocol}`);
    t.true(rule.purpose.length > 10, `${rule.port}/${rule.protocol} says why it is open`);
  }
  t.is(rules.find((r) => r.port === 443)!.purpose, "HTTPS for every web service");
});

test("turning Jitsi off closes its media port, and the VPN's port follows its setting", (t) => {
  const open = (edit: (input: Record<string, any>) => void) => portsOf(firewallRules(onHetzner(edit)));
  t.true(open(() => {}).includes("10000/udp"));
  t.false(open((i) => (i.services.jitsi = { enabled: false })).includes("10000/udp"));

  t.true(open(() => {}).includes("51820/udp"));
  const vpnOff = open((i) => {
    withoutDevices(i);
    i.services.vpn = { enabled: false };
  });
  t.false(vpnOff.some((p) => p.endsWith("/udp") && p !== "10000/udp"), `VPN off still opens: ${vpnOff.join(", ")}`);

  const moved = open((i) => (i.services.vpn = { port: 51999 }));
  t.true(moved.includes("51999/udp"));
  t.false(moved.includes("51820/udp"));
});

test("rules come once per port, sorted, with bare admin addresses turned into networks", (t) => {
  const container = (ports: { port: number; protocol: "tcp" | "udp"; purpose: string }[]) => ({
    name: "c",
    image: "x",
    memoryMb: { small: 1, standard: 2 },
    networks: ["edge" as const],
    ports,
  });
  const blueprint = (ports: Parameters<typeof container>[0]): ServiceBlueprint => ({
    service: "proxy",
    title: "t",
    containers: [container(ports), container([])],
    volumes: [],
    secrets: [],
    routes: [],
    files: () => [],
  });
  const rules = rulesFor(
    ["198.51.100.4", "2001:db8::1", "192.0.2.0/24"],
    [blueprint([{ port: 4000, protocol: "udp", purpose: "first" }, { port: 443, protocol: "tcp", purpose: "web" }]), blueprint([{ port: 4000, protocol: "udp", purpose: "again" }])],
  );
  t.deepEqual(portsOf(rules), ["22/tcp", "443/tcp", "4000/udp"]);
  t.deepEqual(rules[0]!.sources, ["198.51.100.4/32", "2001:db8::1/128", "192.0.2.0/24"]);
  t.is(rules[2]!.purpose, "first");
  t.throws(() => rulesFor([ADMIN_NET], [blueprint([{ port: 22, protocol: "tcp", purpose: "oops" }])]), { message: /22\/tcp/ });
  t.throws(() => asCidr("not-an-address"));
});

test("a local host has no SSH rule: Bastide does not manage that firewall", (t) => {
  const rules = firewallRules(exampleAssociation());
  t.false(rules.some((r) => r.port === 22));
  t.true(portsOf(rules).includes("443/tcp"));
});

test("provider rules: Hetzner takes one rule per port, Scaleway one per port and network", (t) => {
  const rules = firewallRules(onHetzner());
  const hetzner = hetznerFirewallRules(rules);
  t.deepEqual(hetzner[0], { direction: "in", protocol: "tcp", port: "22", sourceIps: [ADMIN_NET], description: rules[0]!.purpose });
  t.is(hetzner.length, rules.length);

  const scaleway = scalewayInboundRules(rules);
  t.deepEqual(
    scaleway.filter((r) => r.port === 22),
    [{ action: "accept", protocol: "TCP", port: 22, ipRange: ADMIN_NET }],
  );
  t.deepEqual(
    scaleway.filter((r) => r.port === 10000).map((r) => [r.protocol, r.ipRange]),
    [["UDP", "0.0.0.0/0"], ["UDP", "::/0"]],
  );
  t.is(scaleway.length, 1 + (rules.length - 1) * 2);
});

// ---------------------------------------------------------------- cloud-init

const cloudHost = (sshPublicKey = ADMIN_KEY): CloudHost => ({ ...HETZNER, sshPublicKey }) as CloudHost;

/** cloud-init's own validator, from Debian's cloud-init package. */
function cloudInitSchema(document: string) {
  const cloudInit = requireProgram("cloud-init", "cloud-init");
  const dir = scratch({ "user-data.yaml": document });
  return run(cloudInit, ["schema", "--config-file", join(dir, "user-data.yaml")]);
}

const fileIn = (document: string, path: string): string => {
  const file = parse(document, { version: "1.1" }).write_files.find((f: { path: string }) => f.path === path);
  if (!file) throw new Error(`cloud-init writes no ${path}`);
  return file.content;
};

test("the cloud-init document is valid for cloud-init's own schema check", (t) => {
  const document = cloudConfig(cloudHost());
  t.is(document.split("\n")[0], "#cloud-config");
  const result = cloudInitSchema(document);
  t.is(result.status, 0, `${result.stdout}${result.stderr}`);
  t.regex(result.stdout, /Valid cloud-config/);
});

test("the schema check is not a rubber stamp: it refuses a broken variant of the document", (t) => {
  const broken = cloudConfig(cloudHost()).replace(/ssh_pwauth: false/, "ssh_pwauth: [false]");
  t.not(broken, cloudConfig(cloudHost()));
  const result = cloudInitSchema(broken);
  t.not(result.status, 0);
  t.regex(`${result.stdout}${result.stderr}`, /ssh_pwauth/);
});

test("cloud-init installs Debian's Docker and unattended-upgrades, and allows root in by key only", (t) => {
  const doc = parse(cloudConfig(cloudHost()), { version: "1.1" });
  t.deepEqual(doc.users, [{ name: "root", lock_passwd: true, ssh_authorized_keys: [ADMIN_KEY] }]);
  t.false(doc.ssh_pwauth);
  t.false(doc.disable_root);
  t.true(doc.package_update);
  t.deepEqual(doc.packages, ["docker.io", "unattended-upgrades"]);
  t.deepEqual(doc.runcmd[0], ["systemctl", "enable", "--now", "docker"]);

  const sshd = fileIn(cloudConfig(cloudHost()), "/etc/ssh/sshd_config.d/10-bastide.conf").split("\n");
  t.true(sshd.includes("PasswordAuthentication no"));
  t.true(sshd.includes("KbdInteractiveAuthentication no"));
  t.true(sshd.includes("PermitRootLogin prohibit-password"));

  const daemon = JSON.parse(fileIn(cloudConfig(cloudHost()), "/etc/docker/daemon.json"));
  t.deepEqual(daemon, { "live-restore": true, "log-driver": "json-file", "log-opts": LOG_ROTATION });
});

test("apt reads the unattended-upgrades settings cloud-init writes", (t) => {
  const aptConfig = requireProgram("apt-config", "apt");
  const content = fileIn(cloudConfig(cloudHost()), "/etc/apt/apt.conf.d/21bastide-auto-upgrades");
  const dir = scratch({ "auto-upgrades.conf": content });
  const result = run(aptConfig, ["-c", join(dir, "auto-upgrades.conf"), "dump"]);
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /^APT::Periodic::Unattended-Upgrade "1";$/m);
  t.regex(result.stdout, /^APT::Periodic::Update-Package-Lists "1";$/m);
});

test("a key comment full of YAML syntax stays one literal key, and the document stays valid", (t) => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc3RpZGU admin: #laptop - {x} 'y' \"z\" yes";
  const document = cloudConfig(cloudHost(key));
  t.deepEqual(parse(document, { version: "1.1" }).users[0].ssh_authorized_keys, [key]);
  t.is(cloudInitSchema(document).status, 0);
});

test("server names are one valid DNS label", (t) => {
  t.is(serverName(exampleAssociation()), "bastide-jardins-canal-localhost");
  const long = exampleAssociation((i) => (i.domain = `${"a".repeat(50)}.${"b".repeat(20)}.fr`));
  t.regex(serverName(long), /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
});

// ---------------------------------------------------------------- wait for Docker

/** A fake `ssh` that answers with the given exit codes in turn and logs its arguments. */
function fakeSsh(exitCodes: number[]) {
  const dir = mkdtempSync(join(tmpdir(), "bastide-ssh-"));
  writeFileSync(join(dir, "codes"), exitCodes.join("\n") + "\n");
  writeFileSync(
    join(dir, "ssh"),
    [
      "#!/bin/sh",
      `dir='${dir}'`,
      'echo "$*" >> "$dir/calls"',
      'code=$(head -n 1 "$dir/codes")',
      'tail -n +2 "$dir/codes" > "$dir/rest" && mv "$dir/rest" "$dir/codes"',
      'exit "${code:-255}"',
      "",
    ].join("\n"),
  );
  chmodSync(join(dir, "ssh"), 0o755);
  const calls = () => readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
  return { dir, calls };
}

function runWait(exitCodes: number[], attempts = 4) {
  const sh = requireProgram("sh", "dash");
  const ssh = fakeSsh(exitCodes);
  const script = waitForDockerScript({ attempts, pauseSeconds: 0, connectTimeoutSeconds: 5, cloudInitTimeoutSeconds: 30 });
  const dir = scratch({ "wait.sh": script });
  const result = run("env", [`PATH=${ssh.dir}:${process.env.PATH}`, "BASTIDE_SERVER=203.0.113.10", sh, join(dir, "wait.sh")]);
  return { ...result, calls: ssh.calls() };
}

test("the wait retries while ssh cannot connect, then succeeds once cloud-init and Docker answer", (t) => {
  const result = runWait([255, 255, 0]);
  t.is(result.status, 0, result.stderr);
  t.is(result.calls.length, 3);
  t.true(result.calls.every((c) => c.includes("BatchMode=yes") && c.includes("root@203.0.113.10")));
  t.regex(result.calls[0]!, /cloud-init status --wait .*&& docker info/);
  t.regex(result.calls[0]!, /timeout 30 /);
});

test("the wait stops at once when cloud-init or Docker fails on the server", (t) => {
  const result = runWait([255, 1, 0]);
  t.is(result.status, 1);
  t.is(result.calls.length, 2);
  t.regex(result.stderr, /cloud-init-output\.log/);
});

test("the wait gives up after its attempts when SSH never answers", (t) => {
  const result = runWait([255, 255, 255, 255, 255, 255], 3);
  t.is(result.status, 1);
  t.is(result.calls.length, 3);
  t.regex(result.stderr, /adminAddresses/);
});

test("the wait script is valid POSIX sh", (t) => {
  const sh = requireProgram("sh", "dash");
  const dir = scratch({ "wait.sh": waitForDockerScript() });
  const result = run(sh, ["-n", join(dir, "wait.sh")]);
  t.is(result.status, 0, result.stderr);
});

// ---------------------------------------------------------------- under Pulumi mocks

const one = (resources: Registered[], type: string, name?: string): Registered => {
  const found = ofType(resources, type).filter((r) => name === undefined || r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
  return found[0]!;
};

const DOCKER_PROVIDER = "pulumi:providers:docker";
const WAIT = "command:local:Command";

test.serial("Hetzner: a protected Debian 12 server in fsn1 behind the firewall, and Docker waits for it", async (t) => {
  const config = onHetzner();
  const resources = await deployUnderMocks(config);
  const stack = one(resources, "bastide:index:Bastide");

  const server = one(resources, "hcloud:index/server:Server");
  t.is(server.inputs.location, "fsn1");
  t.is(server.inputs.serverType, "cx42");
  t.is(server.inputs.image, "debian-12");
  t.is(server.inputs.userData, cloudConfig(config.host as CloudHost));
  t.true(server.inputs.deleteProtection);
  t.true(server.inputs.rebuildProtection);
  t.true(server.protect);
  t.is(server.parent, stack.urn);

  const firewall = one(resources, "hcloud:index/firewall:Firewall");
  t.deepEqual(firewall.inputs.rules, hetznerFirewallRules(firewallRules(config)));
  const ssh = firewall.inputs.rules.filter((r: any) => r.port === "22");
  t.deepEqual(ssh.map((r: any) => r.sourceIps), [[ADMIN_NET]]);
  t.deepEqual(
    firewall.inputs.rules.filter((r: any) => r.port !== "22").map((r: any) => `${r.port}/${r.protocol} ${r.sourceIps.join(" ")}`),
    ["80/tcp", "443/tcp", "10000/udp", "51820/udp"].map((p) => `${p} 0.0.0.0/0 ::/0`),
  );

  const key = one(resources, "hcloud:index/sshKey:SshKey");
  t.is(key.inputs.publicKey, ADMIN_KEY);
  t.true(server.dependencies.includes(firewall.urn), "the firewall exists before the server boots");
  t.true(server.dependencies.includes(key.urn));

  const wait = one(resources, WAIT, "hetzner-docker-ready");
  t.is(wait.inputs.environment.BASTIDE_SERVER, "203.0.113.10");
  t.regex(wait.inputs.create, /cloud-init status --wait/);
  t.true(wait.dependencies.includes(server.urn));

  const provider = one(resources, DOCKER_PROVIDER, "hetzner");
  t.is(provider.inputs.host, "ssh://root@203.0.113.10");
  t.true(provider.dependencies.includes(wait.urn), "Docker is used only once it answers");
});

test.serial("Scaleway: a protected Debian 12 instance in fr-par-1 behind a drop-by-default security group", async (t) => {
  const config = exampleAssociation((input) => (input.host = { ...SCALEWAY }));
  const resources = await deployUnderMocks(config);

  const ip = one(resources, "scaleway:instance/ip:Ip");
  t.is(ip.inputs.zone, "fr-par-1");

  const server = one(resources, "scaleway:instance/server:Server");
  t.is(server.inputs.zone, "fr-par-1");
  t.is(server.inputs.type, "DEV1-XL");
  t.is(server.inputs.image, "debian_bookworm");
  t.is(server.inputs.userData["cloud-init"], cloudConfig(config.host as CloudHost));
  t.true(server.inputs.protected);
  t.true(server.protect);
  t.true(server.dependencies.includes(ip.urn));

  const group = one(resources, "scaleway:instance/securityGroup:SecurityGroup");
  t.is(group.inputs.zone, "fr-par-1");
  t.is(group.inputs.inboundDefaultPolicy, "drop");
  t.deepEqual(group.inputs.inboundRules, scalewayInboundRules(firewallRules(config)));
  t.deepEqual(
    group.inputs.inboundRules.filter((r: any) => r.port === 22).map((r: any) => r.ipRange),
    [ADMIN_NET],
  );
  t.deepEqual(
    [...new Set(group.inputs.inboundRules.map((r: any) => `${r.port}/${r.protocol}`))],
    ["22/TCP", "80/TCP", "443/TCP", "10000/UDP", "51820/UDP"],
  );
  t.true(server.dependencies.includes(group.urn));

  const wait = one(resources, WAIT, "scaleway-docker-ready");
  t.is(wait.inputs.environment.BASTIDE_SERVER, "203.0.113.20");
  t.true(wait.dependencies.includes(server.urn));

  const provider = one(resources, DOCKER_PROVIDER, "scaleway");
  t.is(provider.inputs.host, "ssh://root@203.0.113.20");
  t.true(provider.dependencies.includes(wait.urn));
});

// ---------------------------------------------------------------- refused before anything registers

async function refusedBeforeRegistering(t: ExecutionContext, host: Record<string, unknown>, path: string, message: RegExp) {
  const input = exampleInput();
  input.host = host;
  const dir = scratch({ "association.yaml": JSON.stringify(input) });
  let registered = 0;
  await pulumi.runtime.setMocks(
    { newResource: (args) => ((registered += 1), { id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs },
    "bastide",
    "test",
    true,
  );
  const { Bastide } = await import("../stacks/bastide.ts");
  // As stacks/index.ts does: load, then build.
  const error = t.throws(() => new Bastide("bastide", { config: loadAssociation(join(dir, "association.yaml")) }), {
    instanceOf: ConfigError,
  });
  const problem = (error as ConfigError).problems.find((p) => p.path === path);
  t.truthy(problem, `problems: ${JSON.stringify((error as ConfigError).problems)}`);
  t.regex(problem!.message, message);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(registered, 0);
}

test.serial("a Hetzner location outside the EU is refused at host.location", (t) =>
  refusedBeforeRegistering(t, { ...HETZNER, location: "ash" }, "host.location", /the USA, outside the EU/),
);

test.serial("an unknown Scaleway zone is refused at host.zone", (t) =>
  refusedBeforeRegistering(t, { ...SCALEWAY, zone: "us-east-1" }, "host.zone", /not an EU Scaleway zone/),
);
