// `npm run restore-drill -- <association.yaml> [--snapshot ID] [--stack NAME]`: restores the
// latest (or the chosen) snapshot into throwaway containers beside the running stack, checks it
// against what the backup recorded, prints a dated report and writes the record the audit reads.
// Exit code 0: the backup restores as recorded; 1: a mismatch (named); 2: the drill could not run.
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { asksForHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import type { Env } from "../../cli/stack.ts";
import { stackDocker } from "../../provisioners/runtime/stack-outputs.ts";
import { loadAssociation } from "../config/load.ts";
import { runDrill } from "./drill.ts";
import { DRILL_LABEL, removeLabelled } from "./throwaway.ts";

const USAGE: Localized = {
  en: `usage: npm run restore-drill -- <path/to/association.yaml> [--snapshot ID] [--stack NAME]

Restores the latest backup (or snapshot ID) into throwaway containers beside the running stack:
every database is loaded into a throwaway database and its rows counted, every file is checked
against the checksums the backup recorded. Prints a dated report, records it for the audit, and
removes everything it made. Exit code 0: the backup restores as recorded, 1: a mismatch, 2: the
drill could not run. A cloud server's address comes from the stack ("local" unless --stack).`,
  fr: `usage : npm run restore-drill -- <chemin/vers/association.yaml> [--snapshot ID] [--stack NOM]

Restaure la dernière sauvegarde (ou l'instantané ID) dans des conteneurs jetables à côté de la
pile en marche : chaque base est chargée dans une base jetable et ses lignes comptées, chaque
fichier est vérifié contre les sommes de contrôle enregistrées par la sauvegarde. Affiche un
rapport daté, l'enregistre pour l'audit et supprime tout ce qu'il a créé. Code de sortie 0 : la
sauvegarde se restaure à l'identique, 1 : un écart, 2 : l'exercice n'a pas pu se faire. L'adresse
d'un serveur cloud vient de la pile (« local » sauf --stack).`,
};

export interface Console {
  log(text: string): void;
  error(text: string): void;
}

/** Removes the drill's throwaway things when the admin interrupts it, then exits 2. */
export function cleanUpOnSignal(docker: Docker, label: string, out: Console): () => void {
  const handler = (signal: NodeJS.Signals) => {
    out.error(`${signal}: removing what was made (${label})…`);
    removeLabelled(docker, label).finally(() => process.exit(2));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}

export interface CommandLine {
  file: string;
  snapshot?: string | undefined;
  stack?: string | undefined;
}

/** The restore commands' shared command line; the exit code when it was --help (0) or wrong (2, said with the usage). */
export function commandLine(argv: string[], env: Env, out: Console, command: string, usage: Localized): CommandLine | 0 | 2 {
  if (asksForHelp(argv)) {
    out.log(usage[localeLanguage(env)]);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { snapshot: { type: "string" }, stack: { type: "string" } } });
    if (positionals.length > 1) throw new UsageError(`one association file, not ${positionals.join(" and ")}`);
    if (values.snapshot !== undefined && !/^[0-9a-f]{8,64}$/.test(values.snapshot)) throw new UsageError(`--snapshot ${values.snapshot}: a snapshot id is 8 to 64 hexadecimal digits (restic snapshots lists them)`);
    return { file: requireAssociationFile(positionals[0], command, env), snapshot: values.snapshot, stack: values.stack };
  } catch (error) {
    out.error(`${(error as Error).message}\n${usageLine(usage[localeLanguage(env)])}`);
    return 2;
  }
}

export async function main(argv: string[], env: Env = process.env, out: Console = console, hooks: { images?: Record<string, string> } = {}): Promise<0 | 1 | 2> {
  const line = commandLine(argv, env, out, "restore-drill", USAGE);
  if (typeof line === "number") return line;
  const { file, snapshot, stack } = line;
  try {
    const config = loadAssociation(file);
    const language = languageOf(config);
    const docker = stackDocker(config, { stack, env, language });
    const release = cleanUpOnSignal(docker, DRILL_LABEL, out);
    try {
      const { record, report } = await runDrill({ docker, config, snapshot, ...(hooks.images ? { images: hooks.images } : {}) });
      out.log(report);
      return record.outcome === "ok" ? 0 : 1;
    } finally {
      release();
    }
  } catch (error) {
    out.error((error as Error).message);
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
