// PLACEHOLDER, replaced by the jitsi module's author.
import type { ServiceModule } from "../blueprint.ts";

export const jitsi: ServiceModule = {
  name: "jitsi",
  enabled: (config) => config.services.jitsi.enabled,
  blueprint: () => ({ service: "jitsi", title: "jitsi", containers: [], volumes: [], secrets: [], routes: [], files: () => [] }),
};
