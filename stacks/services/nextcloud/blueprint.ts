// PLACEHOLDER, replaced by the nextcloud module's author.
import type { ServiceModule } from "../blueprint.ts";

export const nextcloud: ServiceModule = {
  name: "nextcloud",
  enabled: (config) => config.services.nextcloud.enabled,
  blueprint: () => ({ service: "nextcloud", title: "nextcloud", containers: [], volumes: [], secrets: [], routes: [], files: () => [] }),
};
