// Which provisioner runs for which service. Each runner builds its client from the
// connection the stack passes (URLs, credentials, the Docker host) and converges.
import type { ProvisionedService } from "./model.ts";
import type { ServiceRunner } from "./run.ts";
import { runJitsi } from "./jitsi/runner.ts";

export const SERVICE_RUNNERS: Partial<Record<ProvisionedService, ServiceRunner>> = {
  jitsi: runJitsi,
};
