// PLACEHOLDER, replaced by the polls module's author.
import type { ServiceModule } from "../blueprint.ts";

export const polls: ServiceModule = {
  name: "polls",
  enabled: (config) => config.services.polls.enabled,
  blueprint: () => ({ service: "polls", title: "polls", containers: [], volumes: [], secrets: [], routes: [], files: () => [] }),
};
