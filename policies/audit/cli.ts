// `npm run audit -- [config.yaml] [--lang fr|en] [--out out/audit] [--stack NAME] [--no-pulumi]`:
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
import { ConfigError, loadAssociation } from "../../stacks/config/load.ts";
import { LANGUAGES, type Language } from "../rgpd/model.ts";
import { runAudit } from "./audit.ts";
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

function language(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  if ((LANGUAGES as readonly string[]).includes(value)) return value as Language;
  throw new Error(`--lang ${value}: must be ${LANGUAGES.join(" or ")}`);
}

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
    file = parsed.positionals[0] ?? "examples/association.yaml";
  } catch (error) {
    out.error((error as Error).message);
    return 2;
  }
  try {
    const config = loadAssociation(file);
    const lang = language(values.lang);
    let outputs: StackOutputs = {};
    let pulumiProblem: string | undefined;
    if (missingCredentials(config, env).length > 0 && !values["no-pulumi"]) {
      const read = pulumiStackOutputs({ stack: values.stack });
      if ("problem" in read) pulumiProblem = read.problem;
      else outputs = read;
    }
    const connections = await openConnections(connectionPlan(config, env, outputs, pulumiProblem));
    const declared = declaredState(config);
    const report = await runAudit({ config, connections, declared: hooks.declared?.(declared) ?? declared, language: lang, source: file });
    out.log(consoleTable(report));
    const files = writeAuditFiles(report, values.out!);
    out.log(`written: ${files.json}\nwritten: ${files.html}`);
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
