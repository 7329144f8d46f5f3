// PLACEHOLDER, replaced by the matrix module's author.
import type { ServiceModule } from "../blueprint.ts";

export const matrix: ServiceModule = {
  name: "matrix",
  enabled: (config) => config.services.matrix.enabled,
  blueprint: () => ({ service: "matrix", title: "matrix", containers: [], volumes: [], secrets: [], routes: [], files: () => [] }),
};
