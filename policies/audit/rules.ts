// The audit's rules: pure functions of what should be in force (declared.ts) and what
// the readers brought back (observed.ts). Each check says which rule, about what, the
// declared and observed values as text, and pass, fail or unread (the source could not
// be read). No I/O here: the readers are at the edges.
import type { Localized } from "../rgpd/model.ts";
import type { Declared, DeclaredContainer } from "./declared.ts";
import type { Audited, Check, Read, Status } from "./model.ts";
import type { BackupJobFacts, DeclaredBackups, JobRecord } from "./backups.ts";
import type { BackupRun } from "../../stacks/backups/layout.ts";
import type { ContainerFacts, IdentityRealmFacts, IdentityUserFacts, Observed, ProbeAnswer } from "./observed.ts";
import { ENROLMENT_ACTIONS, flowSecondFactor, SECOND_FACTOR_CREDENTIALS } from "./identity.ts";
import {
  describeRetentionRule,
  describeTwoFactor,
  durationHours,
  isInvalid,
  ruleDays,
  type CaddyLogOutput,
  type Invalid,
  type LuaValue,
  type RetentionRule,
  type TwoFactorState,
} from "./parse.ts";

/** A check before the report gives it its title in the report's language. */
export type RuleCheck = Omit<Check, "title">;

/** Every rule, with its title: a check's `rule` is one of these keys. */
export const RULES = {
  "container.running": { fr: "Le conteneur tourne", en: "The container is running" },
  "container.log-rotation": {
    fr: "Journaux du conteneur renouvelés : pilote json-file, taille et nombre de fichiers bornés",
    en: "Container logs rotated: json-file driver, bounded size and number of files",
  },
  "container.privileges": {
    fr: "Aucun privilège supplémentaire : pas de mode privilégié, no-new-privileges, capacités déclarées seulement",
    en: "No extra privileges: not privileged, no-new-privileges, declared capabilities only",
  },
  "container.memory": { fr: "Mémoire limitée selon le profil, sans mémoire d'échange", en: "Memory limited as the profile says, without swap" },
  "container.image": { fr: "Image épinglée (version ou empreinte exacte)", en: "Pinned image (exact version or digest)" },
  "container.volumes": { fr: "Volumes de données montés", en: "Data volumes mounted" },
  "proxy.access-log-retention": { fr: "Durée de conservation des journaux d'accès", en: "Access log retention" },
  "proxy.access-log-masking": {
    fr: "Journaux d'accès : adresses tronquées comme configuré, cookies et en-têtes d'authentification retirés",
    en: "Access logs: addresses truncated as configured, cookies and authentication headers removed",
  },
  "jitsi.recording": { fr: "Enregistrement et diffusion des réunions comme configuré", en: "Meeting recording and streaming as configured" },
  "jitsi.no-recorder": { fr: "Aucun service d'enregistrement ni de diffusion activé", en: "No recording or streaming service switched on" },
  "jitsi.memory-only": {
    fr: "Réunions en mémoire seulement : ni archive, ni trace des salles détruites, ni messages hors ligne",
    en: "Meetings in memory only: no archive, no tombstones of destroyed rooms, no offline messages",
  },
  "jitsi.lobby": { fr: "Salle d'attente activée (en mémoire)", en: "Lobby switched on (in memory)" },
  "jitsi.accounts": { fr: "Comptes d'animateurs réservés aux membres admin et staff", en: "Host accounts only for admin and staff members" },
  "jitsi.host-login": {
    fr: "Ouverture des salles réservée aux animateurs authentifiés, par le mode de connexion déclaré",
    en: "Opening rooms kept to authenticated hosts, through the declared login",
  },
  "nextcloud.share-link-password": { fr: "Mot de passe des liens de partage publics", en: "Password on public share links" },
  "nextcloud.share-link-expiry": { fr: "Date d'expiration imposée aux liens de partage publics", en: "Expiry date enforced on public share links" },
  "nextcloud.temporary-tag": { fr: "Règle de conservation de l'étiquette « temporaire »", en: "Retention rule of the \"temporaire\" tag" },
  "nextcloud.trash-retention": { fr: "Durée de conservation de la corbeille", en: "Trash retention" },
  "nextcloud.versions-retention": { fr: "Durée de conservation des anciennes versions", en: "Old versions retention" },
  "nextcloud.activity-expiry": { fr: "Expiration du flux d'activité", en: "Activity records expiry" },
  "nextcloud.log-rotation": { fr: "Taille et niveau du journal de Nextcloud", en: "Nextcloud log size and level" },
  "nextcloud.admin-two-factor": { fr: "Double authentification des administrateurs", en: "Two-factor login for admins" },
  "nextcloud.accounts": { fr: "Comptes actifs réservés aux membres de la liste", en: "Enabled accounts only for listed members" },
  "matrix.registration": { fr: "Inscription libre fermée (vérifiée par l'API)", en: "Open registration closed (checked through the API)" },
  "matrix.guest-access": { fr: "Accès invité fermé (vérifié par l'API)", en: "Guest access closed (checked through the API)" },
  "matrix.federation": { fr: "Fédération comme configurée (vérifiée par l'API)", en: "Federation as configured (checked through the API)" },
  "matrix.homeserver-access": {
    fr: "Configuration de Synapse : inscription, invités et fédération",
    en: "Synapse's configuration: registration, guests and federation",
  },
  "matrix.message-retention": { fr: "Politique de conservation des messages de Synapse", en: "Synapse's message retention policy" },
  "matrix.room-retention": { fr: "Règle de conservation (m.room.retention) du salon", en: "The room's retention rule (m.room.retention)" },
  "matrix.media-retention": { fr: "Durée de conservation des fichiers envoyés", en: "Retention of files sent in chat" },
  "matrix.redaction-retention": { fr: "Effacement du contenu des messages supprimés", en: "Erasure of deleted messages' content" },
  "matrix.connection-records": { fr: "Durée de conservation des adresses de connexion", en: "Retention of connection addresses" },
  "matrix.accounts": { fr: "Comptes actifs réservés aux membres de la liste", en: "Active accounts only for listed members" },
  "polls.purge-delay": { fr: "Délai de purge des sondages après leur date de fin", en: "Polls purged this long after their end date" },
  "polls.discarded-log": { fr: "Journal propre à Framadate jeté", en: "Framadate's own log discarded" },
  "vpn.peers": { fr: "Appareils autorisés sur le VPN : seulement ceux de la liste", en: "VPN devices: only those listed" },
  "vpn.dns-not-logged": { fr: "Requêtes DNS du VPN non journalisées, cache court", en: "VPN DNS queries not logged, short cache" },
  "identity.registration": { fr: "Inscription libre fermée (Keycloak)", en: "Self-registration closed (Keycloak)" },
  "identity.brute-force": {
    fr: "Protection contre la force brute : verrouillage après le nombre d'échecs configuré",
    en: "Brute-force protection: lock-out after the configured number of failed logins",
  },
  "identity.password-policy": {
    fr: "Politique de mots de passe : longueur minimale, différent de l'identifiant et de l'e-mail",
    en: "Password policy: minimum length, not the user name nor the e-mail",
  },
  "identity.login-events": { fr: "Journal des connexions activé, avec la durée de conservation du registre", en: "Login events on, kept as long as the register says" },
  "identity.sessions": { fr: "Durées des sessions : inactivité et maximum", en: "Session lifespans: idle and maximum" },
  "identity.two-factor-flow": {
    fr: "Le parcours de connexion exige le second facteur, même d'un membre qui l'a supprimé",
    en: "The login flow demands the second factor, even of a member who deleted theirs",
  },
  "identity.two-factor": { fr: "Second facteur des membres du rôle, comme configuré", en: "The role's members' second factor, as configured" },
  "identity.accounts": { fr: "Comptes actifs réservés aux membres de la liste", en: "Enabled accounts only for listed members" },
  "backups.configured": { fr: "Sauvegardes quotidiennes chiffrées prévues dans le fichier", en: "Daily encrypted backups set in the file" },
  "backups.recent": { fr: "Dernière sauvegarde réussie assez récente", en: "Last good backup recent enough" },
  "backups.drill": { fr: "Exercice de restauration réussi récemment", en: "A restore drill succeeded recently" },
} as const satisfies Record<string, Localized>;

export type RuleId = keyof typeof RULES;

const MIB = 1024 * 1024;
const NOT_SET = "not set";

/** One check from one read: an unread source makes an unread check, whatever the rule. */
function judge<T>(
  rule: RuleId,
  service: Audited,
  subject: string | null,
  categories: string[],
  declared: string,
  read: Read<T> | undefined,
  evaluate: (value: T) => { observed: string; pass: boolean },
): RuleCheck {
  if (!read) return { rule, service, subject, categories, declared, observed: "not read", status: "unread", readAt: new Date(0).toISOString() };
  if (!read.ok) return { rule, service, subject, categories, declared, observed: `not read: ${read.error}`, status: "unread", readAt: read.readAt };
  const { observed, pass } = evaluate(read.value);
  return { rule, service, subject, categories, declared, observed: observed || "(empty)", status: pass ? "pass" : "fail", readAt: read.readAt };
}

/** A file that could not be understood fails the check that reads it. */
function orInvalid<T>(value: T | Invalid, evaluate: (value: T) => { observed: string; pass: boolean }): { observed: string; pass: boolean } {
  return isInvalid(value) ? { observed: value.invalid, pass: false } : evaluate(value);
}

const list = (items: readonly string[]) => (items.length > 0 ? items.join(", ") : "none");
const compact = (value: unknown) => (value === null || value === undefined ? NOT_SET : typeof value === "string" ? value : JSON.stringify(value));

/** Equal as JSON data, keys in any order. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameData(ka, kb) && ka.every((k) => sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Containers

/** The container carrying the declared labels; a running one when there are several. */
export function findContainer(all: readonly ContainerFacts[], service: string, name: string): ContainerFacts | undefined {
  const matching = all.filter((c) => c.service === service && c.shortName === name);
  return matching.find((c) => c.running) ?? matching[0];
}

interface ImageReference {
  repository: string;
  tag: string | null;
  digest: string | null;
}

/** A reference with Docker's familiar names expanded: `caddy` is docker.io/library/caddy. */
export function parseImageReference(reference: string): ImageReference {
  const [named, digest = null] = reference.split("@") as [string, string?];
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const tag = colon > slash ? named.slice(colon + 1) : null;
  let repository = colon > slash ? named.slice(0, colon) : named;
  const first = repository.split("/")[0]!;
  const hasRegistry = repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) repository = `docker.io/${repository.includes("/") ? repository : `library/${repository}`}`;
  return { repository, tag, digest };
}

/** A reference pinned by digest matches that digest; one pinned by tag, that tag. */
export function imageMatches(declared: string, container: Pick<ContainerFacts, "image" | "imageReferences">): boolean {
  const want = parseImageReference(declared);
  return [container.image, ...container.imageReferences].some((ref) => {
    if (ref.startsWith("sha256:")) return false;
    const have = parseImageReference(ref);
    if (have.repository !== want.repository) return false;
    return want.digest ? have.digest === want.digest : have.tag === want.tag && want.tag !== null;
  });
}

const capability = (name: string) => name.toUpperCase().replace(/^CAP_/, "");
const hasNoNewPrivileges = (options: readonly string[]) =>
  options.some((o) => /^no-new-privileges(?:[:=]true)?$/.test(o));

function containerChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const { maxSize, maxFile } = declared.logRotation;
  return declared.containers.flatMap((spec: DeclaredContainer) => {
    const subject = spec.container;
    const each = (rule: RuleId, categories: string[], text: string, evaluate: (c: ContainerFacts) => { observed: string; pass: boolean }) =>
      judge(rule, spec.service, subject, categories, text, observed.containers, (all) => {
        const found = findContainer(all, spec.service, spec.name);
        return found ? evaluate(found) : { observed: `no container labelled bastide.service=${spec.service}, bastide.container=${spec.name}`, pass: false };
      });
    const declaredCaps = spec.capabilities.map(capability).sort();
    const checks = [
      each("container.running", [], "running", (c) => ({ observed: c.running ? "running" : "stopped", pass: c.running })),
      each("container.log-rotation", [`${spec.service}.container-logs`], `json-file, max-size=${maxSize}, max-file=${maxFile}`, (c) => ({
        observed: `${c.logDriver || NOT_SET}, max-size=${c.logOptions["max-size"] ?? NOT_SET}, max-file=${c.logOptions["max-file"] ?? NOT_SET}`,
        pass: c.logDriver === "json-file" && c.logOptions["max-size"] === maxSize && c.logOptions["max-file"] === maxFile,
      })),
      each("container.privileges", [], `not privileged, no-new-privileges, added capabilities: ${list(declaredCaps)}`, (c) => {
        const added = c.addedCapabilities.map(capability).sort();
        const extra = added.filter((a) => !declaredCaps.includes(a));
        const noNew = hasNoNewPrivileges(c.securityOptions);
        return {
          observed: `${c.privileged ? "privileged" : "not privileged"}, ${noNew ? "no-new-privileges" : "privileges can be gained (no no-new-privileges)"}, added capabilities: ${list(added)}`,
          pass: !c.privileged && noNew && extra.length === 0,
        };
      }),
      each("container.memory", [], `${spec.memoryMb} MiB, no swap`, (c) => {
        const limit = c.memoryBytes > 0 ? `${c.memoryBytes / MIB} MiB` : "no limit";
        const swap = c.memorySwapBytes === c.memoryBytes ? "no swap" : c.memorySwapBytes > 0 ? `memory+swap ${c.memorySwapBytes / MIB} MiB` : "unlimited swap";
        return { observed: `${limit}, ${swap}`, pass: c.memoryBytes === spec.memoryMb * MIB && c.memorySwapBytes === c.memoryBytes };
      }),
      each("container.image", [], spec.image, (c) => {
        const known = [...new Set([c.image, ...c.imageReferences])].filter((r) => !r.startsWith("sha256:"));
        return { observed: known.length > 0 ? known.join(", ") : c.image, pass: imageMatches(spec.image, c) };
      }),
    ];
    if (spec.volumes.length > 0) {
      const text = spec.volumes.map((v) => `${v.volume}:${v.path}`).join(", ");
      checks.push(
        each("container.volumes", [], text, (c) => ({
          observed: list(c.volumes.map((v) => `${v.name}:${v.path}`)),
          pass: spec.volumes.every((v) => c.volumes.some((m) => m.name === v.volume && m.path === v.path)),
        })),
      );
    }
    return checks;
  });
}

/** Checks of environment variables: the lobby, and that no recorder is switched on. */
function envChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const ruleFor: Record<string, { rule: RuleId; categories: string[] }> = {
    ENABLE_LOBBY: { rule: "jitsi.lobby", categories: ["jitsi.lobby"] },
    ENABLE_RECORDING: { rule: "jitsi.no-recorder", categories: ["jitsi.meetings"] },
    ENABLE_LIVESTREAMING: { rule: "jitsi.no-recorder", categories: ["jitsi.meetings"] },
    ENABLE_AUTH: { rule: "jitsi.host-login", categories: ["jitsi.accounts"] },
    AUTH_TYPE: { rule: "jitsi.host-login", categories: ["jitsi.accounts"] },
  };
  return declared.containers.flatMap((spec) => {
    const groups = new Map<RuleId, { categories: string[]; keys: string[] }>();
    for (const key of Object.keys(spec.env)) {
      const target = ruleFor[key];
      if (!target) continue;
      const group = groups.get(target.rule) ?? { categories: target.categories, keys: [] };
      group.keys.push(key);
      groups.set(target.rule, group);
    }
    return [...groups].map(([rule, { categories, keys }]) =>
      judge(rule, spec.service, spec.container, categories, keys.map((k) => `${k}=${spec.env[k]}`).join(", "), observed.containers, (all) => {
        const found = findContainer(all, spec.service, spec.name);
        if (!found) return { observed: `no container labelled bastide.service=${spec.service}, bastide.container=${spec.name}`, pass: false };
        return {
          observed: keys.map((k) => `${k}=${found.env[k] ?? NOT_SET}`).join(", "),
          pass: keys.every((k) => found.env[k] === spec.env[k]),
        };
      }),
    );
  });
}

// ---------------------------------------------------------------------------------------
// Proxy

function describeOutput(o: CaddyLogOutput): string {
  return `${o.output}: roll_size ${o.rollSize ?? NOT_SET}, roll_keep_for ${o.rollKeepFor ?? NOT_SET}${o.rollDisabled ? ", roll_disabled" : ""}`;
}

function proxyChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const { accessLogHours, rollSize, masks, deleted, caddyfile } = declared.proxy;
  const subject = `${caddyfile.container}:${caddyfile.path}`;
  const categories = ["proxy.access-logs"];
  const files = (outputs: CaddyLogOutput[]) => outputs.filter((o) => o.toFile);
  const retention = judge("proxy.access-log-retention", "proxy", subject, categories, `every file log: roll_size ${rollSize}, roll_keep_for ${accessLogHours}h`, observed.caddyfile, (value) =>
    orInvalid(value, (outputs) => {
      const toFile = files(outputs);
      if (toFile.length === 0) return { observed: "no access log written to a file", pass: false };
      return {
        observed: [...new Set(toFile.map(describeOutput))].join("; "),
        pass: toFile.every((o) => o.rollSize === rollSize && durationHours(o.rollKeepFor) === accessLogHours && !o.rollDisabled),
      };
    }),
  );
  const maskText = Object.keys(masks).length > 0 ? `masked: ${Object.entries(masks).map(([field, mask]) => `${field} ${mask}`).join(", ")}` : "addresses kept whole";
  const masking = judge("proxy.access-log-masking", "proxy", subject, categories, `${maskText}; removed: ${list(deleted)}`, observed.caddyfile, (value) =>
    orInvalid(value, (outputs) => {
      const toFile = files(outputs);
      if (toFile.length === 0) return { observed: "no access log written to a file", pass: false };
      const problems = toFile.flatMap((o) => [
        ...Object.entries(masks).filter(([field, mask]) => o.masks[field] !== mask).map(([field]) => `${field} not masked as ${masks[field]}`),
        ...deleted.filter((field) => !o.deleted.includes(field)).map((field) => `${field} kept`),
      ]);
      const first = toFile[0]!;
      const seen = Object.entries(first.masks).map(([field, mask]) => `${field} ${mask}`);
      return {
        observed: problems.length > 0 ? [...new Set(problems)].join("; ") : `masked: ${list(seen)}; removed: ${list(first.deleted)}`,
        pass: problems.length === 0,
      };
    }),
  );
  return [retention, masking];
}

// ---------------------------------------------------------------------------------------
// Jitsi

const luaText = (value: LuaValue | undefined) => (value === undefined || value === null ? NOT_SET : Array.isArray(value) ? `{ ${value.join(", ")} }` : String(value));

function jitsiChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const jitsi = declared.jitsi;
  if (!jitsi) return [];
  const settingsText = (values: Record<string, unknown>) =>
    Object.entries(values)
      .map(([k, v]) => `${k}=${compact(v)}`)
      .join("; ");
  const recording = judge("jitsi.recording", "jitsi", `${jitsi.webConfig.container}:${jitsi.webConfig.path}`, ["jitsi.meetings"], settingsText(jitsi.recording), observed.jitsiWeb, (value) =>
    orInvalid(value, (settings) => ({
      observed: settingsText(settings),
      pass: Object.entries(jitsi.recording).every(([k, v]) => sameData(settings[k] ?? null, v)),
    })),
  );
  const memoryText = `${Object.entries(jitsi.memoryOnly).map(([k, v]) => `${k}=${luaText(v)}`).join(", ")}; modules_disabled includes ${list(jitsi.modulesDisabled)}`;
  const memoryOnly = judge("jitsi.memory-only", "jitsi", `${jitsi.overlay.container}:${jitsi.overlay.path}`, ["jitsi.meetings", "jitsi.lobby"], memoryText, observed.prosodyOverlay, (value) =>
    orInvalid(value, (globals) => {
      const disabled = Array.isArray(globals.modules_disabled) ? globals.modules_disabled.map(String) : [];
      return {
        observed: `${Object.keys(jitsi.memoryOnly).map((k) => `${k}=${luaText(globals[k])}`).join(", ")}; modules_disabled: ${list(disabled)}`,
        pass: Object.entries(jitsi.memoryOnly).every(([k, v]) => sameData(globals[k] ?? null, v)) && jitsi.modulesDisabled.every((m) => disabled.includes(m)),
      };
    }),
  );
  // With token login Prosody holds no host account: who opens a room is jitsi.host-login's (envChecks).
  if (jitsi.tokenLogin) return [recording, memoryOnly];
  const accounts = judge("jitsi.accounts", "jitsi", jitsi.domain, ["jitsi.accounts"], `at most: ${list(jitsi.staff)}`, observed.jitsiAccounts, (users) => {
    const extra = users.filter((u) => !jitsi.staff.includes(u));
    return { observed: extra.length > 0 ? `${list(users)} (not admin or staff: ${list(extra)})` : list(users), pass: extra.length === 0 };
  });
  return [recording, memoryOnly, accounts];
}

// ---------------------------------------------------------------------------------------
// Nextcloud

/**
 * Enforced for at least the declared groups (or everyone), and excluding no one the
 * declaration does not; not enforced when the config says so.
 */
export function twoFactorCovers(declared: TwoFactorState, observed: TwoFactorState): boolean {
  if (!declared.enforced) return !observed.enforced;
  const covered = observed.groups.length === 0 || declared.groups.every((g) => observed.groups.includes(g));
  const everyone = declared.groups.length === 0 ? observed.groups.length === 0 : true;
  return observed.enforced && covered && everyone && observed.excluded.every((g) => declared.excluded.includes(g));
}

function nextcloudChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const nc = declared.nextcloud;
  if (!nc) return [];
  const api = observed.nextcloudApi;
  const occ = observed.nextcloudOcc;
  const links = ["nextcloud.share-links"];
  const password = judge("nextcloud.share-link-password", "nextcloud", null, links, nc.shareLinks.requirePassword ? "password enforced" : "password optional", api, (v) =>
    orInvalid(v.shareLinks, (caps) => {
      const text = !caps.linksEnabled ? "public links disabled" : caps.passwordEnforced === null ? "password enforcement not reported" : caps.passwordEnforced ? "password enforced" : "password optional";
      return { observed: text, pass: caps.linksEnabled && caps.passwordEnforced === nc.shareLinks.requirePassword };
    }),
  );
  const expiry = judge("nextcloud.share-link-expiry", "nextcloud", null, links, `expiry date enforced, at most ${nc.shareLinks.expireDays} days`, api, (v) =>
    orInvalid(v.shareLinks, (caps) => {
      if (!caps.linksEnabled) return { observed: "public links disabled", pass: false };
      if (!caps.expireDateEnabled) return { observed: "no default expiry date", pass: false };
      const text = `expiry date ${caps.expireDateEnforced ? "enforced" : "not enforced"}, at most ${caps.expireDays ?? "?"} days`;
      return { observed: text, pass: caps.expireDateEnforced === true && caps.expireDays === nc.shareLinks.expireDays };
    }),
  );
  const tag = nc.temporaryTag;
  const temporary = judge("nextcloud.temporary-tag", "nextcloud", `tag "${tag.name}"`, ["nextcloud.temporary-files"], describeRetentionRule(tag.rule), api, (v) => {
    const found = v.tags.find((t) => t.name === tag.name);
    if (!found) return { observed: `no tag "${tag.name}"`, pass: false };
    const rules = v.retentionRules.filter((r) => r.tagid === found.id);
    if (rules.length === 0) return { observed: `tag "${tag.name}" (id ${found.id}) has no retention rule`, pass: false };
    // 4 weeks is 28 days: compared in days; months and years are never whole days.
    const same = (r: RetentionRule) => r.timeafter === tag.rule.timeafter && ruleDays(r) !== undefined && ruleDays(r) === ruleDays(tag.rule);
    return { observed: rules.map(describeRetentionRule).join("; "), pass: rules.every(same) };
  });
  const system = (rule: RuleId, categories: string[], keys: readonly string[]) =>
    judge(rule, "nextcloud", "config.php", categories, keys.map((k) => `${k} = ${nc.system[k]}`).join(", "), occ, (v) => ({
      observed: keys.map((k) => `${k} = ${v.system[k] ?? NOT_SET}`).join(", "),
      pass: keys.every((k) => v.system[k] === nc.system[k]),
    }));
  const twoFactor = judge("nextcloud.admin-two-factor", "nextcloud", null, [], describeTwoFactor(nc.twoFactor), occ, (v) =>
    orInvalid(v.twoFactor, (state) => ({ observed: describeTwoFactor(state), pass: twoFactorCovers(nc.twoFactor, state) })),
  );
  const accounts = judge("nextcloud.accounts", "nextcloud", null, ["nextcloud.accounts", "nextcloud.files", "nextcloud.calendars"], `enabled only: ${list(nc.accounts)}`, api, (v) => {
    const enabled = v.accounts.filter((a) => a.enabled).map((a) => a.id).sort();
    const extra = enabled.filter((id) => !nc.accounts.includes(id));
    return { observed: extra.length > 0 ? `enabled but not in the member list: ${list(extra)}` : `enabled: ${list(enabled)}`, pass: extra.length === 0 };
  });
  return [
    password,
    expiry,
    temporary,
    system("nextcloud.trash-retention", ["nextcloud.trash"], ["trashbin_retention_obligation"]),
    system("nextcloud.versions-retention", ["nextcloud.versions"], ["versions_retention_obligation"]),
    system("nextcloud.activity-expiry", ["nextcloud.activity"], ["activity_expire_days"]),
    system("nextcloud.log-rotation", ["nextcloud.log"], ["log_rotate_size", "loglevel"]),
    twoFactor,
    accounts,
  ];
}

// ---------------------------------------------------------------------------------------
// Matrix

function describeAnswer(answer: ProbeAnswer): string {
  return `HTTP ${answer.status}${answer.errcode ? ` ${answer.errcode}` : ""}${answer.error ? `: ${answer.error}` : ""}`;
}

function matrixChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const m = declared.matrix;
  if (!m) return [];
  const probes = observed.matrixProbes;
  const yaml = observed.homeserver;
  const yamlSubject = `${m.homeserver.container}:${m.homeserver.path}`;
  const accountsCategory = ["matrix.accounts"];
  const registration = judge("matrix.registration", "matrix", "POST /_matrix/client/v3/register", accountsCategory, "HTTP 403 M_FORBIDDEN: Registration has been disabled", probes, (p) => ({
    observed: p.register.status === 401 ? `${describeAnswer(p.register)} (registration open: the server asks for the next step)` : describeAnswer(p.register),
    pass: p.register.status === 403 && p.register.errcode === "M_FORBIDDEN",
  }));
  const guests = judge("matrix.guest-access", "matrix", "POST /_matrix/client/v3/register?kind=guest", accountsCategory, "HTTP 403: Guest access is disabled", probes, (p) => ({
    observed: p.guest.status === 200 ? `${describeAnswer(p.guest)} (a guest account was created)` : describeAnswer(p.guest),
    pass: p.guest.status === 403,
  }));
  const federation = judge(
    "matrix.federation",
    "matrix",
    "GET /_matrix/federation/v1/version",
    ["matrix.messages", "matrix.media", "matrix.accounts"],
    m.federation ? "served" : "not served",
    probes,
    (p) => {
      const served = p.federation.status === 200 && p.federation.server !== null;
      return { observed: served ? `served (${p.federation.server})` : `not served (${describeAnswer(p.federation)})`, pass: served === m.federation };
    },
  );
  const accessText = m.federation
    ? "enable_registration=false, allow_guest_access=false, listener serves federation"
    : "enable_registration=false, allow_guest_access=false, federation_domain_whitelist=[], listener serves client only";
  const access = judge("matrix.homeserver-access", "matrix", yamlSubject, accountsCategory, accessText, yaml, (value) =>
    orInvalid(value, (h) => {
      const federationServed = h.listenerResources.includes("federation");
      const closed = h.enable_registration === false && h.allow_guest_access === false;
      const federationOk = m.federation ? federationServed : sameData(h.federation_domain_whitelist, []) && !federationServed;
      return {
        observed: `enable_registration=${compact(h.enable_registration)}, allow_guest_access=${compact(h.allow_guest_access)}, federation_domain_whitelist=${compact(h.federation_domain_whitelist)}, listener serves ${list(h.listenerResources)}`,
        pass: closed && federationOk,
      };
    }),
  );
  const setting = (rule: RuleId, categories: string[], key: "retention" | "media_retention" | "redaction_retention_period" | "user_ips_max_age") =>
    judge(rule, "matrix", yamlSubject, categories, `${key}: ${compact(m.settings[key])}`, yaml, (value) =>
      orInvalid(value, (h) => ({ observed: `${key}: ${compact(h[key])}`, pass: sameData(h[key], m.settings[key]) })),
    );
  const wanted = { max_lifetime: m.retentionMs };
  const rooms = m.rooms.map((alias) =>
    judge("matrix.room-retention", "matrix", `#${alias}:${m.serverName}`, ["matrix.messages"], compact(wanted), observed.matrixState, (state) => {
      const room = state.rooms[alias];
      if (!room) return { observed: "no room with this alias", pass: false };
      return { observed: room.retention ? compact(room.retention) : "no m.room.retention", pass: sameData(room.retention, wanted) };
    }),
  );
  const accounts = judge("matrix.accounts", "matrix", null, ["matrix.accounts", "matrix.push"], `active only: ${list(m.accounts)}`, observed.matrixState, (state) => {
    const active = state.accounts.filter((a) => !a.deactivated && a.id.endsWith(`:${m.serverName}`)).map((a) => a.id).sort();
    const extra = active.filter((id) => !m.accounts.includes(id));
    return { observed: extra.length > 0 ? `active but not in the member list: ${list(extra)}` : `active: ${list(active)}`, pass: extra.length === 0 };
  });
  return [
    registration,
    guests,
    federation,
    access,
    setting("matrix.message-retention", ["matrix.messages"], "retention"),
    ...rooms,
    setting("matrix.media-retention", ["matrix.media"], "media_retention"),
    setting("matrix.redaction-retention", ["matrix.redacted"], "redaction_retention_period"),
    setting("matrix.connection-records", ["matrix.connections"], "user_ips_max_age"),
    accounts,
  ];
}

// ---------------------------------------------------------------------------------------
// Polls and VPN

function pollsChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const polls = declared.polls;
  if (!polls) return [];
  return polls.configs.flatMap((file) => {
    const subject = `${file.container}:${file.path}`;
    const read = observed.pollsConfigs?.[file.container];
    return [
      judge("polls.purge-delay", "polls", subject, ["polls.answers", "polls.creators"], `PURGE_DELAY = ${polls.purgeDelayDays}, default_poll_duration = ${polls.defaultDurationDays}`, read, (value) =>
        orInvalid(value, (c) => ({
          observed: `PURGE_DELAY = ${c.purgeDelay ?? NOT_SET}, default_poll_duration = ${c.defaultPollDuration ?? NOT_SET}`,
          pass: c.purgeDelay === polls.purgeDelayDays && c.defaultPollDuration === polls.defaultDurationDays,
        })),
      ),
      judge("polls.discarded-log", "polls", subject, ["polls.creators"], `LOG_FILE = ${polls.logFile}`, read, (value) =>
        orInvalid(value, (c) => ({ observed: `LOG_FILE = ${c.logFile ?? NOT_SET}`, pass: c.logFile === polls.logFile })),
      ),
    ];
  });
}

function vpnChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const vpn = declared.vpn;
  if (!vpn) return [];
  const peers = judge("vpn.peers", "vpn", `${vpn.serverConf.container}:${vpn.serverConf.path}`, ["vpn.peers"], `at most: ${list(vpn.devices)}`, observed.wireguardPeers, (names) => {
    const extra = names.filter((n) => !vpn.devices.includes(n));
    return { observed: extra.length > 0 ? `${list(names)} (not in the list: ${list(extra)})` : list(names), pass: extra.length === 0 };
  });
  const dns = judge("vpn.dns-not-logged", "vpn", `${vpn.corefile.container}:${vpn.corefile.path}`, ["vpn.dns"], `no log plugin, cache at most ${vpn.cacheSeconds} s`, observed.corefile, (value) =>
    orInvalid(value, (c) => ({
      observed: `${c.queryLogging.length > 0 ? `query logging: ${c.queryLogging.join(", ")}` : "no log plugin"}, cache ${c.cacheSeconds.length > 0 ? c.cacheSeconds.map((s) => `${s} s`).join(", ") : "none"}`,
      pass: c.queryLogging.length === 0 && c.cacheSeconds.every((s) => s <= vpn.cacheSeconds),
    })),
  );
  return [peers, dns];
}

// ---------------------------------------------------------------------------------------
// Identity provider

/** Keycloak's password policy string, e.g. `length(12) and notUsername(undefined)`, as name → argument. */
export function passwordPolicies(policy: string | null): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of (policy ?? "").split(/\s+and\s+/)) {
    const match = /^\s*([A-Za-z][\w-]*)\s*(?:\((.*)\))?\s*$/.exec(part);
    if (match) found.set(match[1]!, match[2] ?? "");
  }
  return found;
}

const DAY_MS = 86_400_000;
const hasSecondFactor = (user: IdentityUserFacts) => user.credentials.some((c) => (SECOND_FACTOR_CREDENTIALS as readonly string[]).includes(c));
const enrolling = (user: IdentityUserFacts) => user.requiredActions.some((a) => (ENROLMENT_ACTIONS as readonly string[]).includes(a));

function identityChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const id = declared.identity;
  if (!id) return [];
  const read = observed.identityRealm;
  const realm = `realm ${id.realm}`;
  const setting = (rule: RuleId, categories: string[], text: string, evaluate: (r: IdentityRealmFacts["realm"]) => { observed: string; pass: boolean }) =>
    judge(rule, "identity", realm, categories, text, read, (facts) => evaluate(facts.realm));

  const registration = setting("identity.registration", ["identity.accounts"], "registrationAllowed=false", (r) => ({
    observed: `registrationAllowed=${compact(r.registrationAllowed)}`,
    pass: r.registrationAllowed === false,
  }));
  const bruteForce = setting("identity.brute-force", ["identity.credentials"], `bruteForceProtected=true, failureFactor=${id.lockoutAfterFailures}`, (r) => ({
    observed: `bruteForceProtected=${compact(r.bruteForceProtected)}, failureFactor=${compact(r.failureFactor)}`,
    pass: r.bruteForceProtected === true && r.failureFactor === id.lockoutAfterFailures,
  }));
  const passwords = setting("identity.password-policy", ["identity.credentials"], `length(${id.minimumPasswordLength}) or longer, notUsername, notEmail`, (r) => {
    const policies = passwordPolicies(r.passwordPolicy);
    const length = Number(policies.get("length") ?? NaN);
    return {
      observed: r.passwordPolicy ? r.passwordPolicy : "no password policy",
      pass: length >= id.minimumPasswordLength && policies.has("notUsername") && policies.has("notEmail"),
    };
  });
  const events = setting("identity.login-events", ["identity.login-events"], `eventsEnabled=true, eventsExpiration=${id.loginEventsSeconds} s`, (r) => ({
    observed: `eventsEnabled=${compact(r.eventsEnabled)}, eventsExpiration=${r.eventsExpiration === null ? NOT_SET : `${r.eventsExpiration} s`}`,
    pass: r.eventsEnabled === true && r.eventsExpiration === id.loginEventsSeconds,
  }));
  const sessions = setting(
    "identity.sessions",
    ["identity.sessions"],
    `ssoSessionIdleTimeout=${id.ssoSessionIdleSeconds} s, ssoSessionMaxLifespan=${id.ssoSessionMaxSeconds} s`,
    (r) => ({
      observed: `ssoSessionIdleTimeout=${compact(r.ssoSessionIdleTimeout)} s, ssoSessionMaxLifespan=${compact(r.ssoSessionMaxLifespan)} s`,
      pass: r.ssoSessionIdleTimeout === id.ssoSessionIdleSeconds && r.ssoSessionMaxLifespan === id.ssoSessionMaxSeconds,
    }),
  );

  const required = id.twoFactor.filter((r) => r.required).map((r) => r.role);
  const flow = judge(
    "identity.two-factor-flow",
    "identity",
    realm,
    ["identity.credentials"],
    required.length > 0 ? `second factor asked of ${list(required)} whether or not they configured one (unconditionally or by a role condition)` : "second factor optional for every role",
    read,
    (facts) => {
      const found = flowSecondFactor(facts.browserFlow);
      const where = `browser flow ${facts.realm.browserFlow ?? NOT_SET}`;
      const text = {
        always: `${where}: second factor always asked`,
        "by-condition": `${where}: second factor asked by condition (${list(found.conditions)})`,
        "if-configured": `${where}: second factor asked only of members who configured one (${USER_CONFIGURED_TEXT})`,
        never: `${where}: no second-factor step`,
      }[found.kind];
      return { observed: text, pass: required.length === 0 || found.kind === "always" || found.kind === "by-condition" };
    },
  );

  const roles = id.twoFactor.map((policy) => {
    const members = id.members.filter((m) => m.role === policy.role).map((m) => m.username);
    const declaredText = policy.required
      ? `required: every enabled ${policy.role} has a second factor, or enrols one within ${id.enrolmentDays} days of the account's creation`
      : `optional (services.identity.twoFactor.${policy.role}.relaxedBecause: ${policy.reason ?? ""})`;
    return judge("identity.two-factor", "identity", `role ${policy.role}`, ["identity.credentials"], declaredText, read, (facts) => {
      const now = Date.parse(read!.readAt);
      const accounts = facts.users.filter((u) => u.enabled && members.includes(u.username));
      const enrolled = accounts.filter(hasSecondFactor).map((u) => u.username);
      if (!policy.required) return { observed: `${enrolled.length} of ${accounts.length} enabled accounts have a second factor`, pass: true };
      const missing = accounts.filter((u) => !hasSecondFactor(u));
      const unenforced = missing.filter((u) => !enrolling(u)).map((u) => u.username);
      const late = missing.filter((u) => enrolling(u) && u.createdTimestamp !== null && now - u.createdTimestamp > id.enrolmentDays * DAY_MS).map((u) => u.username);
      const pending = missing.filter((u) => enrolling(u) && !late.includes(u.username)).map((u) => u.username);
      const problems = [
        ...(unenforced.length > 0 ? [`no second factor and none asked: ${list(unenforced)}`] : []),
        ...(late.length > 0 ? [`not enrolled after ${id.enrolmentDays} days: ${list(late)}`] : []),
      ];
      const summary = `${enrolled.length} of ${accounts.length} enabled accounts have a second factor${pending.length > 0 ? `; enrolling: ${list(pending)}` : ""}`;
      return { observed: problems.length > 0 ? `${summary}; ${problems.join("; ")}` : summary, pass: problems.length === 0 };
    });
  });

  const accounts = judge("identity.accounts", "identity", realm, ["identity.accounts"], `enabled only: ${list(id.members.map((m) => m.username))}`, read, (facts) => {
    const enabled = facts.users.filter((u) => u.enabled).map((u) => u.username).sort();
    const listed = new Set(id.members.map((m) => m.username));
    const extra = enabled.filter((u) => !listed.has(u));
    return { observed: extra.length > 0 ? `enabled but not in the member list: ${list(extra)}` : `enabled: ${list(enabled)}`, pass: extra.length === 0 };
  });

  return [registration, bruteForce, passwords, events, sessions, flow, ...roles, accounts];
}

const USER_CONFIGURED_TEXT = "Keycloak's default \"Condition - user configured\": a member who deletes theirs logs in with a password alone";

// ---------------------------------------------------------------------------------------
// Backups

const HOUR_MS = 3_600_000;
const hoursText = (ms: number) => `${Math.floor(ms / HOUR_MS)} h`;
const failedRun = (run: BackupRun) => `last run failed at ${run.finishedAt}${run.error ? `: ${run.error}` : ""}`;

/** The job's container, then one of its records: a missing or stopped job, or an unreadable record, fails. */
function fromJob<T>(job: BackupJobFacts, record: (job: Extract<BackupJobFacts, { container: "running" }>) => JobRecord<T>, container: string, evaluate: (value: T | null) => { observed: string; pass: boolean }) {
  if (job.container === "missing") return { observed: `no container ${container}: the backup job is not deployed`, pass: false };
  if (job.container === "stopped") return { observed: `container ${container} is stopped: no backup runs`, pass: false };
  const value = record(job);
  return value !== null && isInvalid(value) ? { observed: value.invalid, pass: false } : evaluate(value as T | null);
}

/** The last good backup's age, and the last failure when one came after it. */
export function backupAge(spec: DeclaredBackups, job: BackupJobFacts, readAt: string): { observed: string; pass: boolean } {
  return fromJob(job, (j) => j.status, spec.container, (status) => {
    if (!status) return { observed: "no backup has run yet", pass: false };
    const { lastSuccess, lastRun } = status;
    if (!lastSuccess) return { observed: `no good backup yet; ${failedRun(lastRun)}`, pass: false };
    const age = Date.parse(readAt) - Date.parse(lastSuccess.finishedAt);
    const failure = lastRun.outcome === "failed" && Date.parse(lastRun.finishedAt) > Date.parse(lastSuccess.finishedAt) ? `; ${failedRun(lastRun)}` : "";
    return { observed: `last good backup ${lastSuccess.finishedAt} (${hoursText(age)} ago, ${lastSuccess.reason})${failure}`, pass: age <= spec.maxAgeHours * HOUR_MS };
  });
}

/** The last restore drill: successful, and recent. */
export function drillAge(spec: DeclaredBackups, job: BackupJobFacts, readAt: string): { observed: string; pass: boolean } {
  return fromJob(job, (j) => j.drill, spec.container, (drill) => {
    if (!drill) return { observed: "no restore drill yet (npm run restore-drill)", pass: false };
    if (drill.outcome === "failed") return { observed: `last restore drill failed at ${drill.at}: ${drill.problems.join("; ") || "no detail"}`, pass: false };
    const days = (Date.parse(readAt) - Date.parse(drill.at)) / (24 * HOUR_MS);
    return { observed: `last successful restore drill ${drill.at} (${Math.floor(days)} days ago)`, pass: days <= spec.drillMaxAgeDays };
  });
}

/** Without `backups:`, one finding of its own; with it, the job's two records. */
function backupChecks(declared: Declared, observed: Observed): RuleCheck[] {
  const spec = declared.backups;
  if (!spec)
    return [
      {
        rule: "backups.configured",
        service: "backups",
        subject: null,
        categories: [],
        declared: "daily, encrypted, off the data's disk",
        observed: "none: no backups: section in the association file; a lost disk loses everything",
        status: "fail",
        // Judged from the file alone, at the time the other sources were read.
        readAt: observed.containers.readAt,
      },
    ];
  const job = observed.backupJob;
  return [
    judge("backups.recent", "backups", spec.container, [], `a good backup less than ${spec.maxAgeHours} h old`, job, (facts) => backupAge(spec, facts, job!.readAt)),
    judge("backups.drill", "backups", spec.container, [], `a successful restore drill less than ${spec.drillMaxAgeDays} days old`, job, (facts) => drillAge(spec, facts, job!.readAt)),
  ];
}

/** Every check, in deployment order of the services. */
export function evaluate(declared: Declared, observed: Observed): RuleCheck[] {
  const all: RuleCheck[] = [
    ...containerChecks(declared, observed),
    ...envChecks(declared, observed),
    ...proxyChecks(declared, observed),
    ...jitsiChecks(declared, observed),
    ...nextcloudChecks(declared, observed),
    ...matrixChecks(declared, observed),
    ...pollsChecks(declared, observed),
    ...vpnChecks(declared, observed),
    ...identityChecks(declared, observed),
  ];
  all.push(...backupChecks(declared, observed));
  const order = new Map<string, number>(declared.services.map((s, i) => [s, i]));
  // Stable: within a service, the order above.
  return all.map((c, i) => ({ c, i })).sort((a, b) => (order.get(a.c.service) ?? 99) - (order.get(b.c.service) ?? 99) || a.i - b.i).map(({ c }) => c);
}

/** pass only when every check passed; unread wins over fail, since the audit is incomplete. */
export function overallStatus(checks: readonly { status: Status }[]): Status {
  if (checks.some((c) => c.status === "unread")) return "unread";
  return checks.some((c) => c.status === "fail") ? "fail" : "pass";
}
