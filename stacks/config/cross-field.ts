// The cross-field checks, able to run on a file whose fields are not all valid yet.
// zod skips an object's superRefine as soon as one field fails, so a typo'd team would
// only show up once every field error is fixed; load.ts runs these on the raw input
// instead, so that the admin sees every problem of the file at once.
// They read the input defensively: a part that is missing or of the wrong type is
// skipped here (the schema reports it), never guessed.
import { ROLES } from "./schema.ts";
import { jitsiSettings } from "../services/jitsi/settings.ts";
import { matrixSettings } from "../services/matrix/settings.ts";
import { nextcloudSettings } from "../services/nextcloud/settings.ts";
import { pollsSettings } from "../services/polls/settings.ts";
import { vpnSettings } from "../services/vpn/settings.ts";

export interface CrossFieldProblem {
  path: (string | number)[];
  message: string;
}

type Raw = Record<string, unknown>;

const isRecord = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
/** Own properties only: `constructor` or `__proto__` as a key must not reach Object's. */
const field = (v: unknown, key: string): unknown => (isRecord(v) && Object.hasOwn(v, key) ? v[key] : undefined);

/** Indices of items whose key (when it has one) was already seen. */
function duplicates<T>(items: readonly T[], key: (item: T) => string | undefined): number[] {
  const seen = new Set<string>();
  return items.flatMap((item, index) => {
    const k = key(item);
    if (k === undefined) return [];
    if (seen.has(k)) return [index];
    seen.add(k);
    return [];
  });
}

/** A service's settings with their defaults, or undefined when they are invalid (reported elsewhere). */
function settingsOf<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, raw: unknown): T | undefined {
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export function crossFieldProblems(input: unknown): CrossFieldProblem[] {
  if (!isRecord(input)) return [];
  const problems: CrossFieldProblem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push({ path, message });
  const members = list(field(input, "members"));
  const teams = list(field(input, "teams"));
  const idOf = (item: unknown) => text(field(item, "id"));

  for (const i of duplicates(members, idOf))
    issue(["members", i, "id"], `"${idOf(members[i])}" is already used by another member; ids must be unique`);
  const emailOf = (m: unknown) => text(field(m, "email"))?.toLowerCase();
  for (const i of duplicates(members, emailOf))
    issue(["members", i, "email"], `"${text(field(members[i], "email"))}" is already used by another member; e-mails must be unique`);
  for (const i of duplicates(teams, idOf))
    issue(["teams", i, "id"], `"${idOf(teams[i])}" is already used by another team; team ids must be unique`);

  const teamIds = new Set(teams.flatMap((t) => idOf(t) ?? []));
  const services = field(input, "services");
  const vpn = settingsOf(vpnSettings, field(services, "vpn") ?? {});
  members.forEach((m, i) => {
    const memberId = idOf(m) ?? `members[${i}]`;
    list(field(m, "teams")).forEach((t, j) => {
      if (typeof t === "string" && !teamIds.has(t))
        issue(["members", i, "teams", j], `team "${t}" is not declared; add it under teams: or fix the spelling`);
    });
    const devices = list(field(m, "devices"));
    const deviceName = (d: unknown) => text(field(d, "name"));
    for (const j of duplicates(devices, deviceName))
      issue(["members", i, "devices", j, "name"], `device "${deviceName(devices[j])}" is listed twice for ${memberId}; give each device its own name`);
    const role = field(m, "role") ?? "volunteer";
    if (devices.length > 0 && role === "volunteer")
      issue(["members", i, "devices"], `only admin and staff members get VPN access; set role: staff for ${memberId} or remove the devices`);
  });

  // A role the schema refuses could be a typo'd admin: judge the roles only when all are known.
  const roles = members.map((m) => field(m, "role") ?? "volunteer");
  if (members.length > 0 && roles.every((r) => ROLES.includes(r as never)) && !roles.includes("admin"))
    issue(["members"], "at least one member needs role: admin, to own the services' admin accounts");

  if (vpn && !vpn.enabled && members.some((m) => list(field(m, "devices")).length > 0))
    issue(["services", "vpn", "enabled"], "members have devices listed but the VPN is off; turn services.vpn.enabled on or remove the devices");

  const jitsi = settingsOf(jitsiSettings, field(services, "jitsi") ?? {});
  const nextcloud = settingsOf(nextcloudSettings, field(services, "nextcloud") ?? {});
  const matrix = settingsOf(matrixSettings, field(services, "matrix") ?? {});
  const polls = settingsOf(pollsSettings, field(services, "polls") ?? {});
  const labels: [string, string | undefined][] = [
    ["jitsi.subdomain", jitsi?.subdomain],
    ["nextcloud.subdomain", nextcloud?.subdomain],
    ["matrix.subdomain", matrix?.subdomain],
    ["matrix.elementSubdomain", matrix?.elementSubdomain],
    ["polls.subdomain", polls?.subdomain],
    ["vpn.subdomain", vpn?.subdomain],
  ];
  for (const i of duplicates(labels, ([, label]) => label)) {
    const [name, label] = labels[i]!;
    const first = labels.find(([, l]) => l === label)![0];
    issue(["services", ...name.split(".")], `"${label}" is already the sub-domain of services.${first}; give each service its own`);
  }
  return problems;
}
