// PLACEHOLDER, replaced by the host targets' author.
import type * as pulumi from "@pulumi/pulumi";
import type { Association } from "../config/schema.ts";
import type { HostSettings } from "./settings.ts";
import type { CloudServer } from "./index.ts";

export function hetznerServer(config: Association, host: Extract<HostSettings, { target: "hetzner" }>, parent: pulumi.Resource): CloudServer {
  throw new Error("not yet");
}
