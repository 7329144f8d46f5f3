// The handover entry of provisioners/services.ts. `pulumi up` runs on the admin's machine,
// so the "service" is a folder there: one sub-folder per member with their welcome sheet
// and, for staff, each device's VPN profile and QR code, for the admin to hand over.
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { validateAssociation } from "../../stacks/config/load.ts";
import { converge } from "../model.ts";
import type { ServiceRunner } from "../run.ts";
import { handoverContent, type HandoverVpn } from "./content.ts";
import { handoverProvisioner } from "./provisioner.ts";

/** What the stack passes in `connection` (a Pulumi secret: the VPN part holds key seeds). */
export interface HandoverConnection {
  /** Absolute, or starting with `~/`; see defaultHandoverDirectory. */
  directory: string;
  /** The validated association config (plain data; validated again here). */
  config: unknown;
  /** The VPN resource's `serviceState` as peers, with the seeds; absent when the VPN is off. */
  vpn?: HandoverVpn;
}

/** Where the folder goes by default: private to the admin, one per stack. */
export const defaultHandoverDirectory = (stack: string, home: string = homedir()) => join(home, ".bastide", "handover", stack);

export function resolveDirectory(directory: string, home: string = homedir()): string {
  const resolved = directory === "~" ? home : directory.startsWith("~/") ? join(home, directory.slice(2)) : directory;
  if (!isAbsolute(resolved)) throw new Error(`handover: the directory must be an absolute path, not "${directory}"`);
  return resolved;
}

export const runHandover: ServiceRunner = async (request) => {
  const connection = request.connection as unknown as HandoverConnection;
  if (!connection?.directory || !connection.config) throw new Error("handover: the connection needs a directory and the config");
  const config = validateAssociation(connection.config, "the handover's copy of the config");
  const desired = await handoverContent(config, connection.vpn);
  const client = { root: resolveDirectory(connection.directory), ...(request.counter ? { counter: request.counter } : {}) };
  return converge(handoverProvisioner, desired, client, { concurrency: request.concurrency, ...(request.dryRun ? { dryRun: true } : {}) });
};
