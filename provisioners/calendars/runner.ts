// The calendars entry of provisioners/services.ts: team calendars owned by the
// service account and shared with the teams' groups (after the Nextcloud run).
import { resolveEndpoint } from "../connections.ts";
import { converge } from "../model.ts";
import type { ServiceRunner } from "../run.ts";
import type { NextcloudConnection } from "../nextcloud/runner.ts";
import { calendarsProvisioner, createCalDavClient } from "./index.ts";

export const runCalendars: ServiceRunner = async (request) => {
  const connection = request.connection as unknown as NextcloudConnection;
  const { baseUrl, dispatcher } = await resolveEndpoint(connection.endpoint, connection.docker);
  const client = createCalDavClient({ baseUrl, user: connection.user, password: connection.password, counter: request.counter, dispatcher, concurrency: request.concurrency });
  return converge(calendarsProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
};
