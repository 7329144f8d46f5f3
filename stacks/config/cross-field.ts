// Checks that span several fields: uniqueness, references, names that collide once a
// service derives its own from them, and sizes only known once two fields are read together.
//
// They run on whatever part of the config is valid, so that one run reports every problem
// of a file: the schema calls them even when some fields failed (zod's `when`), and they
// read the config as `unknown`, skipping a value whose own field is already reported.
import { peerCapacity } from "../../provisioners/vpn/addresses.ts";
import { domainProblem, emailKey, formatPath, identifier, shown } from "./fields.ts";
import { ROLES } from "./schema.ts";
import { normalName, peerId, reservedMemberId, reservedTeamId } from "./names.ts";
import { SERVICE_HOSTS } from "../services/hosts.ts";
import { ACCESS_LOG_DAYS_WITHOUT_REASON } from "../services/proxy/settings.ts";

export interface FieldProblem {
  path: (string | number)[];
  message: string;
}

/** Reads a part of the config that may be missing or of the wrong type, as the empty value of the expected one. */
type Fields = Record<string, unknown>;
const record = (value: unknown): Fields => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Fields) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const stringOf = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
/** An id whose own field is valid; an invalid one is already reported there. */
const validId = (value: unknown): string | undefined => (identifier.safeParse(value).success ? (value as string) : undefined);

/** DNS names are at most 253 characters (RFC 1035 2.3.4, as written without the final dot). */
const MAX_HOSTNAME = 253;
/** Synapse refuses a user id (`@localpart:server`) longer than this (synapse/api/constants.py MAX_USERID_LENGTH, v1.157.1). */
const MAX_MATRIX_USER_ID = 255;

interface Named {
  path: (string | number)[];
  key: string;
  describe: string;
}

/** Each later item whose key an earlier one already has, with the earlier one's description. */
function collisions(items: Named[]): { item: Named; first: Named }[] {
  const seen = new Map<string, Named>();
  return items.flatMap((item) => {
    const first = seen.get(item.key);
    if (first) return [{ item, first }];
    seen.set(item.key, item);
    return [];
  });
}

export function crossFieldProblems(config: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push({ path, message });
  const root = record(config);
  const members = list(root.members).map(record);
  const teams = list(root.teams).map(record);
  const services = record(root.services);
  const vpn = record(services.vpn);

  // Ids, e-mails and team ids: unique, compared as the services compare them.
  const memberIds = members.flatMap((m, i) => {
    const id = validId(m.id);
    return id ? [{ path: ["members", i, "id"], key: normalName(id), describe: id }] : [];
  });
  for (const { item } of collisions(memberIds))
    issue(item.path, `"${item.describe}" is already used by another member; ids must be unique`);
  const emails = members.flatMap((m, i) => {
    const email = stringOf(m.email);
    return email ? [{ path: ["members", i, "email"], key: emailKey(email), describe: email }] : [];
  });
  for (const { item } of collisions(emails))
    issue(item.path, `${shown(item.describe)} is already used by another member; e-mails must be unique`);
  const teamIds = teams.flatMap((t, i) => {
    const id = validId(t.id);
    return id ? [{ path: ["teams", i, "id"], key: normalName(id), describe: id }] : [];
  });
  for (const { item } of collisions(teamIds))
    issue(item.path, `"${item.describe}" is already used by another team; team ids must be unique`);

  // Ids that are already a name of Bastide's or of a service.
  for (const { path, describe } of memberIds) {
    const owner = reservedMemberId(describe);
    if (owner) issue(path, `"${describe}" is reserved: it is ${owner}; choose another id for this member, e.g. ${describe}.membre`);
  }
  for (const { path, describe } of teamIds) {
    const owner = reservedTeamId(describe);
    if (owner) issue(path, `"${describe}" is reserved: it is ${owner}; choose another team id, e.g. equipe-${describe}`);
  }

  // References and roles.
  const declared = new Set(teamIds.map((t) => t.key));
  members.forEach((m, i) => {
    list(m.teams).forEach((t, j) => {
      if (typeof t === "string" && validId(t) && !declared.has(normalName(t)))
        issue(["members", i, "teams", j], `team "${t}" is not declared; add it under teams: or fix the spelling`);
    });
    const devices = list(m.devices).map(record);
    const names = devices.flatMap((d, j) => (typeof d.name === "string" ? [{ path: ["members", i, "devices", j, "name"], key: d.name, describe: d.name }] : []));
    for (const { item } of collisions(names))
      issue(item.path, `device "${item.describe}" is listed twice for ${String(m.id)}; give each device its own name`);
    if (devices.length > 0 && m.role === "volunteer")
      issue(["members", i, "devices"], `only admin and staff members get VPN access; set role: staff for ${String(m.id)} or remove the devices`);
  });
  // A role already reported as unknown may have been meant as admin: say nothing more then.
  const rolesValid = members.every((m) => (ROLES as readonly unknown[]).includes(m.role));
  if (members.length > 0 && rolesValid && !members.some((m) => m.role === "admin"))
    issue(["members"], "at least one member needs role: admin, to own the services' admin accounts");

  // VPN: each device is a peer named <member>-<device>; the names must not collide
  // (karim.b + x-laptop and karim.b-x + laptop are both karim.b-x-laptop), and the subnet must hold them all.
  const peers = members.flatMap((m, i) => {
    const member = validId(m.id);
    return member
      ? list(m.devices).flatMap((d, j) => {
          const device = stringOf(record(d).name);
          return device ? [{ path: ["members", i, "devices", j, "name"], key: peerId(member, device), describe: `${member} + ${device}` }] : [];
        })
      : [];
  });
  for (const { item, first } of collisions(peers)) {
    if (item.describe === first.describe) continue; // the same device twice: reported above
    issue(
      item.path,
      `${item.describe} makes the VPN peer "${item.key}", which ${first.describe} (at ${formatPath(first.path)}) already makes; rename one of the two devices`,
    );
  }
  const anyDevices = members.some((m) => list(m.devices).length > 0);
  if (anyDevices && vpn.enabled === false)
    issue(["services", "vpn", "enabled"], "members have devices listed but the VPN is off; turn services.vpn.enabled on or remove the devices");
  const subnet = stringOf(vpn.subnet);
  if (vpn.enabled !== false && subnet) {
    const capacity = capacityOf(subnet);
    if (capacity !== undefined && peers.length > capacity)
      issue(
        ["services", "vpn", "subnet"],
        `"${subnet}" has room for ${capacity} device${capacity === 1 ? "" : "s"} besides the server, but ${peers.length} are listed; choose a larger private subnet such as 10.13.13.0/24, or remove devices`,
      );
  }

  problems.push(...hostnameProblems(root, members));
  problems.push(...dpoProblems(root, members), ...accessLogProblems(services));
  return problems;
}

const sameName = (a: string, b: string) => a.normalize("NFC").trim().toLowerCase() === b.normalize("NFC").trim().toLowerCase();

/**
 * The admin member the DPO is: the same e-mail, or the same name (a DPO usually has a
 * dpo@ address apart from their member account).
 */
export function dpoAdmin(dpo: { name?: string; email?: string }, members: readonly { email: string; name: string; role: string; id: string }[]) {
  return members.find(
    (m) => m.role === "admin" && ((dpo.email !== undefined && emailKey(m.email) === emailKey(dpo.email)) || (dpo.name !== undefined && sameName(m.name, dpo.name))),
  );
}

/** A DPO who administers the stack audits their own work (GDPR art. 38(6)): the association must say it accepts it. */
function dpoProblems(root: Fields, members: Fields[]): FieldProblem[] {
  const dpo = record(record(root.organisation).dpo);
  if (dpo.alsoAdminAcknowledged !== undefined) return [];
  const admin = dpoAdmin(
    { name: stringOf(dpo.name), email: stringOf(dpo.email) },
    members.flatMap((m) =>
      typeof m.email === "string" && typeof m.id === "string" && typeof m.name === "string"
        ? [{ email: m.email, name: m.name, id: m.id, role: stringOf(m.role) ?? "volunteer" }]
        : [],
    ),
  );
  if (!admin) return [];
  return [
    {
      path: ["organisation", "dpo", "alsoAdminAcknowledged"],
      message:
        `the DPO (${shown(stringOf(dpo.name) ?? "")}) is also the admin member ${admin.id}: a DPO who runs the services audits their own choices, a conflict of interest (GDPR art. 38(6)); ` +
        `name another DPO, give ${admin.id} role: staff, or state why the association accepts it in organisation.dpo.alsoAdminAcknowledged (the register quotes it)`,
    },
  ];
}

/** Access logs kept past the short default need the reason the register quotes. */
function accessLogProblems(services: Fields): FieldProblem[] {
  const accessLog = record(record(services.proxy).accessLog);
  const days = accessLog.retentionDays;
  if (typeof days !== "number" || days <= ACCESS_LOG_DAYS_WITHOUT_REASON || accessLog.retentionReason !== undefined) return [];
  return [
    {
      path: ["services", "proxy", "accessLog", "retentionReason"],
      message: `access logs kept ${days} days (more than ${ACCESS_LOG_DAYS_WITHOUT_REASON}) need a reason: add services.proxy.accessLog.retentionReason, a sentence the register quotes, e.g. "délai pour détecter une intrusion découverte tardivement, recommandation de la CNIL"`,
    },
  ];
}

function capacityOf(subnet: string): number | undefined {
  try {
    return peerCapacity(subnet);
  } catch {
    return undefined; // an invalid subnet is reported at its own field
  }
}

const SERVICE_LABELS: [service: string, field: string][] = Object.values(SERVICE_HOSTS).map(({ service, field }) => [service, field]);

/** Sub-domains unique; every service's name, and every Matrix user id, short enough once the domain is appended. */
function hostnameProblems(root: Fields, members: Fields[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const services = record(root.services);
  const labels = SERVICE_LABELS.flatMap(([service, field]) => {
    const label = stringOf(record(services[service])[field]);
    return label ? [{ path: ["services", service, field], key: label, describe: `services.${service}.${field}`, enabled: record(services[service]).enabled !== false }] : [];
  });
  for (const { item, first } of collisions(labels))
    problems.push({ path: item.path, message: `"${item.key}" is already the sub-domain of ${first.describe}; give each service its own` });

  const domain = stringOf(root.domain);
  if (!domain || domainProblem(domain)) return problems; // reported at its own field
  const longest = labels.filter((l) => l.enabled).sort((a, b) => b.key.length - a.key.length)[0];
  if (longest && `${longest.key}.${domain}`.length > MAX_HOSTNAME) {
    const name = `${longest.key}.${domain}`;
    problems.push({
      path: ["domain"],
      message: `${shown(domain)} is too long: ${longest.describe} makes ${shown(name)}, ${name.length} characters, past the ${MAX_HOSTNAME} a DNS name may have; use a shorter domain name (or a shorter sub-domain)`,
    });
    return problems;
  }
  const matrix = record(services.matrix);
  const matrixLabel = stringOf(matrix.subdomain);
  if (matrix.enabled !== false && matrixLabel) {
    const server = `${matrixLabel}.${domain}`;
    members.forEach((m, i) => {
      const id = validId(m.id);
      if (id && `@${id}:${server}`.length > MAX_MATRIX_USER_ID)
        problems.push({
          path: ["members", i, "id"],
          message: `the Matrix id "@${id}:${shown(server).slice(1, -1)}" is longer than the ${MAX_MATRIX_USER_ID} characters Synapse accepts; use a shorter id or a shorter domain name`,
        });
    });
  }
  return problems;
}
