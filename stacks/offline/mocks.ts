// Runs the Pulumi program under Pulumi's own mocks (no CLI, no Docker, no cloud) and returns
// every resource it registered, with the options the mocks do not normally show.
// `npm run plan` and the tests share it.
import * as pulumi from "@pulumi/pulumi";
import type { Association } from "../config/schema.ts";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  inputs: Record<string, any>;
  /** Top-level inputs that hold a Pulumi secret somewhere inside. */
  secretInputs: string[];
  protect: boolean;
  retainOnDelete: boolean;
  parent: string;
  dependencies: string[];
  /** Paths of the uploaded files whose content is a Pulumi secret (containers only). */
  secretFiles: string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Pulumi wraps secret values in a signed object; tests and plans want the value. */
export function unwrapSecrets(value: any): any {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    if (SECRET_SIG in value) return unwrapSecrets(value.value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Which top-level inputs Pulumi will keep secret. */
export function secretInputs(inputs: Record<string, any>): string[] {
  const holds = (v: any): boolean =>
    v && typeof v === "object" && (SECRET_SIG in v || Object.values(v).some(holds));
  return Object.entries(inputs).filter(([, v]) => holds(v)).map(([k]) => k);
}

/** What a secret looks like in a plan: its name, never a value. */
export const secretPlaceholder = (name: string) => `<secret:${name}>`;

/** Uploads whose content Pulumi keeps secret. */
function secretFiles(inputs: Record<string, any>): string[] {
  const uploads: unknown[] = Array.isArray(inputs.uploads) ? inputs.uploads : [];
  return uploads.flatMap((u: any) => (u && typeof u === "object" && secretInputs({ content: u.content }).length > 0 ? [String(unwrapSecrets(u.file))] : []));
}

/** Config key (in the bastide namespace) the offline harness sets: the program then reads nothing from the host. */
export const OFFLINE_CONFIG = "offline";

export interface MockOptions {
  /**
   * Appended to every generated secret's placeholder. Two runs with different variants
   * tell a placeholder copied into a file from a value computed from it (a derived key).
   */
  placeholderVariant?: string;
  /** The stack outputs of the previous deployment (none: a fresh stack). */
  lastOutputs?: Record<string, unknown>;
  /**
   * Whether the program asks the host's Docker engine what it runs (stacks/index.ts: the running
   * Nextcloud), as a real run does. Off by default: the offline harness touches no engine.
   */
  readsHost?: boolean;
}

/** An ed25519 public key in OpenSSH's format (RFC 8709 section 4: the type, then 32 bytes), all zero: a placeholder no key matches. */
const PLACEHOLDER_ED25519 = (() => {
  const type = Buffer.from("ssh-ed25519");
  const length = (n: number) => Buffer.from([0, 0, 0, n]);
  return `ssh-ed25519 ${Buffer.concat([length(type.length), type, length(32), Buffer.alloc(32)]).toString("base64")}`;
})();

/** Mocked outputs: generated passwords become placeholders, other resources echo their inputs. */
function mockState(type: string, name: string, inputs: Record<string, any>, variant: string, stackOutputs: Record<string, unknown>): Record<string, any> {
  switch (type) {
    // The stack's outputs from its last deployment (stacks/index.ts reads them back).
    case "pulumi:pulumi:StackReference":
      return { ...inputs, outputs: stackOutputs, secretOutputNames: [] };
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: `${secretPlaceholder(name)}${variant}` };
    // The backup job's SSH key: the private half a placeholder like any generated secret; the public
    // half an OpenSSH line of the right shape (an all-zero ed25519 key), commented with the resource's name.
    case "tls:index/privateKey:PrivateKey":
      return { ...inputs, privateKeyOpenssh: `${secretPlaceholder(name)}${variant}`, publicKeyOpenssh: `${PLACEHOLDER_ED25519} ${name}` };
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `${inputs.name}` };
    case "docker:index/image:Image":
      return { ...inputs, imageName: inputs.imageName, repoDigest: `${inputs.imageName}@sha256:${"0".repeat(64)}` };
    case "hcloud:index/server:Server":
      return { ...inputs, ipv4Address: "203.0.113.10" };
    case "scaleway:index/instanceIp:InstanceIp":
    case "scaleway:instance/ip:Ip":
      return { ...inputs, address: "203.0.113.20" };
    default:
      return inputs;
  }
}

/**
 * Registers `build()`'s resources under mocks and waits for all of them. `lastOutputs` are the
 * stack outputs of the previous deployment (none: a fresh stack).
 * Tests that call it must be serial: Pulumi's runtime is process-wide.
 */
export async function registerUnderMocks(build: () => unknown, options: MockOptions = {}): Promise<Registered[]> {
  const registered: Registered[] = [];
  const variant = options.placeholderVariant ?? "";
  pulumi.runtime.setConfig(`bastide:${OFFLINE_CONFIG}`, String(!options.readsHost));
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs, variant, options.lastOutputs ?? {}) }),
      call: (args) => args.inputs,
    },
    "bastide",
    "test",
    true,
    // The local backend's organization; stacks/index.ts names its own stack with it.
    "organization",
  );
  const monitor = pulumi.runtime.getMonitor() as any;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, res: any) => void) =>
    original(req, (err: unknown, res: any) => {
      if (!err) {
        registered.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: unwrapSecrets(req.getObject()?.toJavaScript() ?? {}),
          secretInputs: secretInputs(req.getObject()?.toJavaScript() ?? {}),
          protect: req.getProtect() ?? false,
          retainOnDelete: req.getRetainondelete() ?? false,
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          secretFiles: secretFiles(req.getObject()?.toJavaScript() ?? {}),
        });
      }
      callback(err, res);
    });
  build();
  await pulumi.runtime.awaitStackRegistrations();
  // Outputs resolve in later turns; give every pending registration a chance to land.
  for (let settled = -1; settled !== registered.length; ) {
    settled = registered.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pulumi.runtime.awaitStackRegistrations();
  }
  return registered;
}

/** `provided`: the secrets the admin supplies through Pulumi's secret config, by name (the plan passes placeholders). */
export async function deployUnderMocks(
  config: Association,
  provided: Record<string, string> = {},
  options: MockOptions = {},
): Promise<Registered[]> {
  const { Bastide } = await import("../bastide.ts");
  return registerUnderMocks(() => new Bastide("bastide", { config, provided }), options);
}

export const ofType = (resources: Registered[], type: string) => resources.filter((r) => r.type === type);
export const CONTAINER = "docker:index/container:Container";
export const VOLUME = "docker:index/volume:Volume";
