// `npm run pulumi -- <pulumi arguments>`: Pulumi on the admin's stack, with the backend,
// stack and passphrase of cli/stack.ts, e.g. `npm run pulumi -- preview`,
// `npm run pulumi -- config set --secret bastide:smtpPassword`, `npm run pulumi -- stack output`.
import { existsSync } from "node:fs";
import { failure } from "../stacks/offline/failure.ts";
import { answerHelp, localeLanguage, type Localized } from "./command.ts";
import { stackMessages } from "./messages.ts";
import { ensurePulumiCli, runPulumi } from "./pulumi-cli.ts";
import { adminStack } from "./stack.ts";

const USAGE: Localized = {
  en: `usage: npm run pulumi -- <pulumi command and options>

Runs Pulumi on your Bastide stack, as npm run deploy left it: the state in ~/.bastide/pulumi
(BASTIDE_STATE_DIR moves ~/.bastide; BASTIDE_BACKEND='s3://…' puts it in the association's
object storage, see the README), the stack "local" (selected by npm run deploy; --stack NAME for
another), the passphrase read by Pulumi itself from ~/.bastide/passphrase.
Examples:
  npm run pulumi -- preview
  npm run pulumi -- config set --secret bastide:smtpPassword '<value>'
  npm run pulumi -- stack output
  npm run pulumi -- help           Pulumi's own help`,
  fr: `usage : npm run pulumi -- <commande et options de pulumi>

Lance Pulumi sur votre pile Bastide, telle que npm run deploy l'a laissée : l'état dans
~/.bastide/pulumi (BASTIDE_STATE_DIR déplace ~/.bastide ; BASTIDE_BACKEND='s3://…' le met dans
le stockage objet de l'association, voir le README), la pile « local » (choisie par
npm run deploy ; --stack NOM pour une autre), la phrase secrète lue par Pulumi lui-même dans
~/.bastide/passphrase.
Exemples :
  npm run pulumi -- preview
  npm run pulumi -- config set --secret bastide:smtpPassword '<valeur>'
  npm run pulumi -- stack output
  npm run pulumi -- help           l'aide de Pulumi lui-même`,
};

/** Pulumi commands that need no stack: they run before the first deploy too. */
const WITHOUT_STACK = new Set(["version", "help", "about", "plugin", "gen-completion", "whoami", "login", "logout", "policy", "schema", "convert", "install"]);

async function main(argv: string[]): Promise<number> {
  // Bastide's usage for a bare --help; `help` and `<command> --help` are Pulumi's.
  if (argv.length === 0) argv = ["--help"];
  answerHelp(argv.slice(0, 1), USAGE);
  const language = localeLanguage();
  const stack = adminStack();
  if (!WITHOUT_STACK.has(argv[0]!) && stackMissing(stack)) {
    console.error(stackMessages.noPassphrase(stack)[language]);
    return 2;
  }
  const cli = await ensurePulumiCli(language);
  return runPulumi(cli, stack, argv);
}

/** Before the first deploy there is no passphrase (every stack of this backend uses the one file), and Pulumi would fail to read it. */
const stackMissing = (stack: ReturnType<typeof adminStack>) => !existsSync(stack.passphraseFile);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(failure(error));
    process.exit(1);
  },
);
