// The register assembled from the service modules: each enabled service's own
// categories, plus the container logs the platform keeps for each of them. Because the
// same modules deploy the services, the register describes what runs.
import type { Association } from "../../stacks/config/schema.ts";
import { containerName, type ServiceBlueprint, type ServiceName } from "../../stacks/services/blueprint.ts";
import { blueprints, SERVICE_MODULES } from "../../stacks/services/catalog.ts";
import { LOG_ROTATION } from "../../stacks/platform/component.ts";
import * as proxy from "../../stacks/services/proxy/register.ts";
import * as jitsi from "../../stacks/services/jitsi/register.ts";
import * as nextcloud from "../../stacks/services/nextcloud/register.ts";
import * as matrix from "../../stacks/services/matrix/register.ts";
import * as polls from "../../stacks/services/polls/register.ts";
import * as vpn from "../../stacks/services/vpn/register.ts";
import * as identity from "../../stacks/services/identity/register.ts";
import { dataCategorySchema, processingActivitySchema, RECIPIENTS, type DataCategory, type DataSubject, type ProcessingActivity } from "./model.ts";
import { fixedRetention } from "./settings.ts";

export interface ServiceRegister {
  activity: ProcessingActivity;
  /** The categories of an enabled service, from the validated config. */
  register(config: Association): DataCategory[];
}

/** One entry per service name: a new service does not compile until it has its register. */
export const SERVICE_REGISTERS: Record<ServiceName, ServiceRegister> = { proxy, jitsi, nextcloud, matrix, polls, vpn, identity };

/** Docker's `10m`, `512k`, `1g` sizes, in MiB. */
export function dockerSizeMb(size: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg])$/i.exec(size);
  if (!match) throw new Error(`"${size}" is not a Docker size such as 10m`);
  const factor = { k: 1 / 1024, m: 1, g: 1024 }[match[2]!.toLowerCase() as "k" | "m" | "g"];
  return Number(match[1]) * factor;
}

const SUBJECTS: Record<ServiceName, DataSubject[]> = {
  proxy: ["visitors"],
  jitsi: ["staff", "members", "guests"],
  nextcloud: ["members", "visitors"],
  matrix: ["members"],
  polls: ["respondents", "members"],
  vpn: ["staff"],
  identity: ["members"],
};

/** The logs Docker keeps for a service's containers: every container gets the same rotation. */
export function containerLogs(blueprint: ServiceBlueprint): DataCategory {
  const containers = blueprint.containers.map((c) => containerName(blueprint.service, c.name));
  const size = LOG_ROTATION["max-size"];
  const files = LOG_ROTATION["max-file"];
  return {
    id: `${blueprint.service}.container-logs`,
    service: blueprint.service,
    name: { fr: "Journaux des conteneurs", en: "Container logs" },
    data: {
      fr: "ce que les logiciels écrivent sur leur console : erreurs, avertissements et, pour certains, une ligne par requête (identifiant de compte, adresse, chemin)",
      en: "what the programs write to their console: errors, warnings and, for some, one line per request (account id, address, path)",
    },
    purpose: { fr: "Dépannage et sécurité.", en: "Troubleshooting and security." },
    legalBasis: {
      article: "f",
      justification: { fr: "intérêt légitime à faire fonctionner et sécuriser les services (considérant 49 du RGPD)", en: "legitimate interest in running and securing the services (GDPR recital 49)" },
    },
    dataSubjects: SUBJECTS[blueprint.service],
    recipients: [RECIPIENTS.admins],
    retention: fixedRetention(
      { kind: "rotation", maxFileMb: dockerSizeMb(size), files: Number(files) },
      "LOG_ROTATION (stacks/platform/component.ts)",
      {
        fr: "Limite de taille, pas de durée : sur un service calme, des lignes peuvent rester longtemps. Les journaux disparaissent avec le conteneur, remplacé à chaque changement de configuration.",
        en: "A size limit, not a time limit: on a quiet service, lines may stay a long time. The logs go with the container, which is replaced at each configuration change.",
      },
    ),
    enforcedBy: {
      how: { fr: "Docker renouvelle le journal de chaque conteneur et supprime le plus ancien fichier.", en: "Docker rolls each container's log and deletes the oldest file." },
      mechanism: `Docker json-file log driver: max-size=${size}, max-file=${files} (${containers.join(", ")})`,
    },
    auditable: true,
  };
}

export interface ActivityRegister {
  activity: ProcessingActivity;
  categories: DataCategory[];
}

/** Each enabled service's processing activity with its categories, in deployment order. */
export function processingActivities(config: Association, registers: Record<ServiceName, ServiceRegister> = SERVICE_REGISTERS): ActivityRegister[] {
  return blueprints(config).map((blueprint) => {
    const entry = registers[blueprint.service];
    const checked = processingActivitySchema.safeParse(entry.activity);
    if (!checked.success)
      throw new Error(
        `the processing of ${blueprint.service} is not fit for the register: ` +
          checked.error.issues.map((i) => `${["activity", ...i.path.map(String)].join(".")}: ${i.message}`).join("; "),
      );
    return { activity: entry.activity, categories: [...entry.register(config), containerLogs(blueprint)] };
  });
}

/** Every data category of every enabled service. */
export function dataCategories(config: Association): DataCategory[] {
  return processingActivities(config).flatMap((a) => a.categories);
}

/** Names of the enabled services, as the modules decide. */
export function enabledServices(config: Association): ServiceName[] {
  return SERVICE_MODULES.filter((m) => m.enabled(config)).map((m) => m.name);
}

export interface RegisterProblem {
  /** The category's id, or its position when it has none. */
  category: string;
  field: string;
  message: string;
}

const label = (category: unknown, index: number): string => {
  const id = (category as { id?: unknown } | null)?.id;
  return typeof id === "string" && id.length > 0 ? id : `#${index}`;
};

/**
 * What makes categories unfit for the register: a missing or malformed field (a
 * retention, a legal basis...), a configurable retention without bounds or outside
 * them, a duplicate id. Takes `unknown` so that it also judges what the types let through.
 */
export function registerProblems(categories: readonly unknown[]): RegisterProblem[] {
  const problems: RegisterProblem[] = [];
  const seen = new Set<string>();
  categories.forEach((category, index) => {
    const name = label(category, index);
    const parsed = dataCategorySchema.safeParse(category, { reportInput: true });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.map(String).join(".");
        const missing = issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined;
        problems.push({ category: name, field, message: missing ? `${field} is missing` : issue.message });
      }
      return;
    }
    const { id, retention } = parsed.data;
    if (seen.has(id)) problems.push({ category: name, field: "id", message: `${id} is used by another category` });
    seen.add(id);
    const { period, bounds } = retention;
    const value = period.kind === "days" ? period.days : period.kind === "account" ? period.graceDays : undefined;
    if (retention.configurable) {
      if (!bounds) problems.push({ category: name, field: "retention.bounds", message: `the bounds of ${retention.setting} are missing` });
      else if (value === undefined)
        problems.push({ category: name, field: "retention.period", message: `a configurable retention needs a number of days, not "${period.kind}"` });
      else if (value < bounds.min || value > bounds.max)
        problems.push({
          category: name,
          field: "retention.period",
          message: `${value} days is outside the bounds of ${retention.setting} (${bounds.min}-${bounds.max})`,
        });
    }
  });
  return problems;
}
