// PLACEHOLDER, replaced by the vpn module's author.
import type { ServiceModule } from "../blueprint.ts";

export const vpn: ServiceModule = {
  name: "vpn",
  enabled: (config) => config.services.vpn.enabled,
  blueprint: () => ({ service: "vpn", title: "vpn", containers: [], volumes: [], secrets: [], routes: [], files: () => [] }),
};
