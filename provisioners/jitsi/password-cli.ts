// `npm run jitsi-password -- <member> <config.yaml> [--stack NAME]`: gives a staff member a
// Jitsi password (see handover.ts). It reaches the prosody container through the Docker
// engine the stack runs on: the local one (DOCKER_HOST, or the default socket), the `ssh`
// target's server, or a cloud server at the stack's `publicAddress` output.
import { parseArgs } from "node:util";
import { answerHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { desiredState } from "../desired.ts";
import { stackDocker } from "../runtime/stack-outputs.ts";
import { dockerProsody } from "./commands.ts";
import { handOverPassword, staffAccount } from "./handover.ts";

const USAGE: Localized = {
  en: `usage: npm run jitsi-password -- <member id> <path/to/association.yaml> [--stack NAME]

Gives a staff member a new Jitsi password, shown once on this terminal (never into a pipe or a
file). A cloud server's address comes from the stack (npm run deploy's, "local" unless --stack).`,
  fr: `usage : npm run jitsi-password -- <id de membre> <chemin/vers/association.yaml> [--stack NOM]

Donne à un membre salarié un nouveau mot de passe Jitsi, affiché une fois sur ce terminal (jamais
dans un tube ni un fichier). L'adresse d'un serveur cloud vient de la pile (celle de npm run
deploy, « local » sauf --stack).`,
};

const MESSAGES = {
  notATerminal: {
    en: "jitsi-password shows the password on a terminal only; run it in one (not through a pipe or a redirection).",
    fr: "jitsi-password n'affiche le mot de passe que sur un terminal ; lancez-le dans un terminal (pas à travers un tube ni une redirection).",
  } satisfies Localized,
  shown: (member: string, username: string, password: string): Localized => ({
    en: `Jitsi password for ${member} (user name: ${username}):\n\n    ${password}\n\nGive it to them in person or over an encrypted chat; Bastide keeps no copy.\nRunning this again replaces it.\n`,
    fr: `Mot de passe Jitsi de ${member} (identifiant : ${username}) :\n\n    ${password}\n\nDonnez-le en personne ou par une messagerie chiffrée ; Bastide n'en garde aucune copie.\nRelancer cette commande le remplace.\n`,
  }),
};

async function main(argv: string[]): Promise<number> {
  answerHelp(argv, USAGE);
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stack: { type: "string" } } });
  const [member, file, ...rest] = positionals;
  if (!member || rest.length > 0) throw new UsageError("");
  const configFile = requireAssociationFile(file, "jitsi-password");
  const config = loadAssociation(configFile);
  const language = languageOf(config);
  // Shown once, to a person: never into a file, a pipe or a CI log.
  if (!process.stdout.isTTY) {
    console.error(MESSAGES.notATerminal[language]);
    return 2;
  }
  const { domain, username } = staffAccount(desiredState(config), member);
  const docker = stackDocker(config, { stack: values.stack, language });
  const password = await handOverPassword({ commands: dockerProsody({ docker }) }, domain, username);
  process.stdout.write(MESSAGES.shown(member, username, password)[language]);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error([error.message, error instanceof UsageError ? usageLine(USAGE[localeLanguage()]) : ""].filter(Boolean).join("\n"));
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
