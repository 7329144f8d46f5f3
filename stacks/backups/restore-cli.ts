// `npm run restore -- <association.yaml> [--snapshot ID] [--stack NAME]`: brings a lost server
// back on a fresh host, before `npm run deploy` starts the services (see restore.ts). The stack's
// secrets come from the stack itself (`pulumi stack output --show-secrets --json`, in memory,
// never printed): the databases' passwords (serviceSecrets) and the job's own secrets (the
// `backups` output: the repository password and, for SFTP, the server's SSH key), from which the
// job's blueprint writes the same secret files as the running job has.
// Exit code 0: restored and checked; 1: restored, but something differs from the backup (named);
// 2: refused or could not run (nothing was created or changed when refused).
import { z } from "zod";
import { languageOf, localeLanguage, UsageError, type Localized } from "../../cli/command.ts";
import { NOTHING_CHANGED } from "../../cli/messages.ts";
import type { Env } from "../../cli/stack.ts";
import { pulumiStackOutput } from "../../provisioners/runtime/stack-outputs.ts";
import { loadAssociation } from "../config/load.ts";
import { blueprints } from "../services/catalog.ts";
import { stackDocker } from "../../provisioners/runtime/stack-outputs.ts";
import { cleanUpOnSignal, commandLine, type Console } from "./drill-cli.ts";
import { backupJob } from "./job.ts";
import { BACKUP_STACK_OUTPUT } from "./layout.ts";
import { S3_KEY_ENV } from "./restic.ts";
import { restoreNextSteps, RestoreRefused, runRestore } from "./restore.ts";
import { RESTORE_LABEL } from "./throwaway.ts";

const USAGE: Localized = {
  en: `usage: npm run restore -- <path/to/association.yaml> [--snapshot ID] [--stack NAME]

Brings a lost server back: on a fresh host, before npm run deploy, restores the latest backup (or
snapshot ID, e.g. the one taken before a failed upgrade) into the stack's volumes and loads every
database, then checks them against the backup. Refuses, changing nothing, while Bastide's
containers exist or a data volume holds data. Reads the stack's secrets from the Pulumi stack
("local" unless --stack); an S3 destination's keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
  fr: `usage : npm run restore -- <chemin/vers/association.yaml> [--snapshot ID] [--stack NOM]

Relève un serveur perdu : sur un hôte neuf, avant npm run deploy, restaure la dernière sauvegarde
(ou l'instantané ID, par exemple celui d'avant une mise à jour ratée) dans les volumes de la pile
et charge chaque base, puis les vérifie contre la sauvegarde. Refuse, sans rien changer, tant que
des conteneurs de Bastide existent ou qu'un volume de données contient des données. Lit les
secrets dans la pile Pulumi (« local » sauf --stack) ; les clés d'une destination S3 dans
AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY.`,
};

/** What the restore reads from the stack's outputs. */
const stackOutputsSchema = z.object({
  serviceSecrets: z.record(z.string(), z.record(z.string(), z.string())),
  [BACKUP_STACK_OUTPUT]: z.object({ repositoryPassword: z.string().min(1), sshPrivateKey: z.string().optional() }),
});

export async function main(argv: string[], env: Env = process.env, out: Console = console): Promise<0 | 1 | 2> {
  const line = commandLine(argv, env, out, "restore", USAGE);
  if (typeof line === "number") return line;
  const { file, snapshot, stack } = line;
  let language = localeLanguage(env);
  try {
    const config = loadAssociation(file);
    language = languageOf(config);
    const job = backupJob(config, blueprints(config));
    if (!job || !config.backups) {
      out.error(`${language === "fr" ? "Le fichier d'association n'a pas de section backups: : aucun dépôt d'où restaurer." : "The association file has no backups: section: there is no repository to restore from."}\n${NOTHING_CHANGED[language]}`);
      return 2;
    }
    const text = pulumiStackOutput({ env, language, ...(stack ? { stack } : {}) });
    const outputs = stackOutputsSchema.safeParse(text === undefined ? {} : JSON.parse(text));
    if (!outputs.success) {
      const missing = outputs.error.issues.map((issue) => issue.path.join(".")).join(", ");
      out.error(`${language === "fr" ? `La pile n'a pas les sorties dont la restauration a besoin (${missing}) : déployez une fois avec la section backups:, ou lancez la restauration avec l'état Pulumi du serveur perdu.` : `The stack lacks the outputs the restore needs (${missing}): deploy once with the backups: section, or run the restore with the lost server's Pulumi state.`}\n${NOTHING_CHANGED[language]}`);
      return 2;
    }
    const jobEnv: Record<string, string> = {};
    if (config.backups.destination.type === "s3")
      for (const variable of S3_KEY_ENV) {
        const value = env[variable];
        if (!value) throw new UsageError(`${variable} is not set: an S3 destination's keys are read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
        jobEnv[variable] = value;
      }
    const docker = stackDocker(config, { stack, env, language });
    const release = cleanUpOnSignal(docker, RESTORE_LABEL, out);
    try {
      const result = await runRestore({
        docker,
        config,
        snapshot,
        serviceSecrets: outputs.data.serviceSecrets,
        jobFiles: job.files(outputs.data[BACKUP_STACK_OUTPUT]),
        jobImage: job.image,
        jobEnv,
      });
      if (result.problems.length > 0) {
        out.error([language === "fr" ? "Restauré, mais des écarts avec la sauvegarde :" : "Restored, but it differs from the backup:", ...result.problems.map((p) => `  - ${p[language]}`)].join("\n"));
        return 1;
      }
      out.log(restoreNextSteps(result, file, language));
      return 0;
    } finally {
      release();
    }
  } catch (error) {
    if (error instanceof RestoreRefused) out.error(`${error.reason[language]}\n${NOTHING_CHANGED[language]}`);
    else out.error((error as Error).message);
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
