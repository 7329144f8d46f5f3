// `npm run audit -- <config.yaml> [--lang fr|en] [--out out/audit] [--stack NAME] [--no-pulumi]`:
// reads every checkable setting back from the running services and prints, per rule,
// the declared and observed values, PASS/FAIL and when it was read; writes the same as
// audit.json and audit.html for the DPO.
//
// Exit code: 0 every check passed; 1 at least one failed; 2 the audit is incomplete (a
// service could not be reached: the output says which) or could not run (bad config or
// arguments). Connections and credentials: see connections.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { asksForHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { ConfigError, loadAssociation } from "../../stacks/config/load.ts";
import { LANGUAGES, type Language } from "../rgpd/model.ts";
import { auditWithFacts } from "./audit.ts";
import type { Observed } from "./observed.ts";
import { isInvalid } from "./parse.ts";
import { drillSchema, type DrillRecord } from "../../stacks/backups/layout.ts";
import { declaredState, type Declared } from "./declared.ts";
import { connectionPlan, missingCredentials, openConnections, pulumiStackOutputs, type Env, type StackOutputs } from "./connections.ts";
import { consoleTable } from "./console.ts";
import { renderAuditHtml } from "./html.ts";
import { auditReportSchema, type AuditReport } from "./model.ts";

export interface AuditFiles {
  json: string;
  html: string;
}

export function writeAuditFiles(report: AuditReport, outDir: string): AuditFiles {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const files = { json: join(out, "audit.json"), html: join(out, "audit.html") };
  writeFileSync(files.json, `${JSON.stringify(auditReportSchema.parse(report), null, 2)}\n`);
  writeFileSync(files.html, renderAuditHtml(report));
  return files;
}

/** The drill record the job keeps, when it was read and understood. */
export function drillRecordOf(observed: Observed): DrillRecord | undefined {
  const job = observed.backupJob;
  if (!job?.ok || job.value.container !== "running") return undefined;
  const drill = job.value.drill;
  return drill && !isInvalid(drill) ? drill : undefined;
}

/** drill.json beside the report, for `npm run report -- --drill`. */
export function writeDrillRecord(drill: DrillRecord, outDir: string): string {
  const file = join(resolve(outDir), "drill.json");
  writeFileSync(file, `${JSON.stringify(drillSchema.parse(drill), null, 2)}\n`);
  return file;
}

function language(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  if ((LANGUAGES as readonly string[]).includes(value)) return value as Language;
  throw new Error(`--lang ${value}: must be ${LANGUAGES.join(" or ")}`);
}

const USAGE: Localized = {
  en: `usage: npm run audit -- <path/to/association.yaml> [--lang fr|en] [--out out/audit] [--stack NAME] [--no-pulumi]

Reads every checkable setting back from the running services and prints, per rule, the declared
and observed values and PASS or FAIL; writes audit.json and audit.html under out/audit/ (and drill.json, the last restore drill's record,
which npm run report -- --drill quotes). Exit
code 0: all passed, 1: a check failed, 2: a service could not be read. Credentials come from the
environment (BASTIDE_NEXTCLOUD_PASSWORD, BASTIDE_MATRIX_SHARED_SECRET, ...) or, for what is
missing, from the stack (npm run deploy's, "local" unless --stack names another; --no-pulumi: never).`,
  fr: `usage : npm run audit -- <chemin/vers/association.yaml> [--lang fr|en] [--out out/audit] [--stack NOM] [--no-pulumi]

Relit chaque réglage vérifiable dans les services en marche et affiche, par règle, la valeur
déclarée, la valeur observée et PASS ou FAIL ; écrit audit.json et audit.html dans out/audit/ (et drill.json, la fiche du dernier exercice de
restauration, que cite npm run report -- --drill).
Code de sortie 0 : tout est conforme, 1 : une vérification a échoué, 2 : un service n'a pas pu
être lu. Les accès viennent de l'environnement (BASTIDE_NEXTCLOUD_PASSWORD,
BASTIDE_MATRIX_SHARED_SECRET, ...) ou, pour ce qui manque, de la pile (celle de npm run deploy,
« local » sauf --stack ; --no-pulumi : jamais).`,
};

export interface Console {
  log(text: string): void;
  error(text: string): void;
}

export interface Hooks {
  /**
   * Adjusts the declared values before the audit. Tests use it to declare the images
   * their containers really run: a digest pin can only be satisfied by a registry pull.
   */
  declared?: (declared: Declared) => Declared;
}

/** Runs the audit as the command line asks; returns the exit code. */
export async function main(argv: string[], env: Env = process.env, out: Console = console, hooks: Hooks = {}): Promise<0 | 1 | 2> {
  if (asksForHelp(argv)) {
    out.log(USAGE[localeLanguage(env)]);
    return 0;
  }
  let file: string;
  let values: { lang?: string; out?: string; stack?: string; "no-pulumi"?: boolean };
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        lang: { type: "string" },
        out: { type: "string", default: "out/audit" },
        stack: { type: "string" },
        "no-pulumi": { type: "boolean", default: false },
      },
    });
    values = parsed.values;
    if (parsed.positionals.length > 1) throw new UsageError(`one association file, not ${parsed.positionals.join(" and ")}`);
    file = requireAssociationFile(parsed.positionals[0], "audit", env);
  } catch (error) {
    out.error(`${(error as Error).message}\n${usageLine(USAGE[localeLanguage(env)])}`);
    return 2;
  }
  try {
    const config = loadAssociation(file);
    const lang = language(values.lang);
    let outputs: StackOutputs = {};
    let pulumiProblem: string | undefined;
    if (missingCredentials(config, env).length > 0 && !values["no-pulumi"]) {
      const read = pulumiStackOutputs({ stack: values.stack, env, language: languageOf(config) });
      if ("problem" in read) pulumiProblem = read.problem;
      else outputs = read;
    }
    const connections = await openConnections(connectionPlan(config, env, outputs, pulumiProblem));
    const declared = declaredState(config);
    const { report, observed } = await auditWithFacts({ config, connections, declared: hooks.declared?.(declared) ?? declared, language: lang, source: file });
    out.log(consoleTable(report));
    const files = writeAuditFiles(report, values.out!);
    out.log(`written: ${files.json}\nwritten: ${files.html}`);
    const drill = drillRecordOf(observed);
    if (drill) out.log(`written: ${writeDrillRecord(drill, values.out!)} (the last restore drill: npm run report -- ${file} --drill <it> quotes it)`);
    return report.exitCode;
  } catch (error) {
    out.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Exits at once: open HTTP keep-alive connections must not hold the process.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
