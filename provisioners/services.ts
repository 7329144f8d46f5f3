// Which provisioner runs for which service. Each runner builds its client from the
// connection the stack passes (URLs, credentials, the Docker host) and converges.
import type { ProvisionedService } from "./model.ts";
import type { ServiceRunner } from "./run.ts";
import { runNextcloudSettings } from "./nextcloud-settings/runner.ts";
import { runNextcloud } from "./nextcloud/runner.ts";
import { runCalendars } from "./calendars/runner.ts";
import { runMatrix } from "./matrix/runner.ts";
import { runJitsi } from "./jitsi/runner.ts";
import { runVpn } from "./vpn/runner.ts";
import { runHandover } from "./handover/runner.ts";
import { runIdentity } from "./identity/runner.ts";

export const SERVICE_RUNNERS: Partial<Record<ProvisionedService, ServiceRunner>> = {
  "nextcloud-settings": runNextcloudSettings,
  nextcloud: runNextcloud,
  calendars: runCalendars,
  matrix: runMatrix,
  jitsi: runJitsi,
  vpn: runVpn,
  handover: runHandover,
  identity: runIdentity,
};
