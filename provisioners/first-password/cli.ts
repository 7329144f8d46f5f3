// `npm run first-password -- <member id>... | --all [path/to/association.yaml] [--stack <name>]`
//
// With the identity provider on (services.identity.enabled, the default): ONE hand-over per
// member for every service (provisioners/identity/enroll.ts). With a mail relay, Keycloak
// mails each member a link to choose their password and set up their second factor, and
// this prints who got one; without, it sets one temporary password per member and prints
// them once, as a table for many members (`--all`, or several ids).
//
// With it off: the former behaviour, one member at a time: a fresh temporary password in
// each of the member's services (see passwords.ts). `--only` replaces just the passwords
// named, e.g. when a member forgot one and has already changed the others.
//
// Passwords are shown once, on this terminal only: it refuses to write them to a pipe or a
// file, like jitsi-password. The credentials it acts with come from the environment or from
// `pulumi stack output` (credentials.ts).
import { parseArgs } from "node:util";
import { answerHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Language, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { desiredState } from "../desired.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { enrollMembers, formatEnrollment } from "../identity/enroll.ts";
import { openClients, openIdentityClient } from "./connect.ts";
import { loadCredentials, pulumiStackOutput } from "./credentials.ts";
import { checkAccounts, formatPasswords, memberAccounts, PASSWORD_SERVICES, setFirstPasswords, type PasswordService } from "./passwords.ts";

const USAGE: Localized = {
  en: [
    "usage: npm run first-password -- <member id>... | --all <path/to/association.yaml> [--stack NAME]",
    `       (identity provider off: one member at a time, [--only ${PASSWORD_SERVICES.join(",")}])`,
    "",
    "Gives members their first password (by mail through the identity provider when the file has a",
    "mail relay; otherwise shown once, on this terminal only). The credentials come from the",
    "environment or from the stack (npm run deploy's, \"local\" unless --stack names another).",
  ].join("\n"),
  fr: [
    "usage : npm run first-password -- <id de membre>... | --all <chemin/vers/association.yaml> [--stack NOM]",
    `        (sans fournisseur d'identité : un membre à la fois, [--only ${PASSWORD_SERVICES.join(",")}])`,
    "",
    "Donne aux membres leur premier mot de passe (par courriel via le fournisseur d'identité si le",
    "fichier a un relais de courrier ; sinon affiché une fois, sur ce terminal seulement). Les accès",
    "viennent de l'environnement ou de la pile (celle de npm run deploy, « local » sauf --stack).",
  ].join("\n"),
};

const NOT_ON_A_TERMINAL: Localized = {
  en: "first-password shows the passwords on a terminal only; run it in one (not through a pipe or a redirection). Nothing was changed.",
  fr: "first-password n'affiche les mots de passe que sur un terminal ; lancez-le dans un terminal (pas à travers un tube ni une redirection). Rien n'a été modifié.",
};

function servicesOf(only: string | undefined): PasswordService[] | undefined {
  if (only === undefined) return undefined;
  const names = only.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PASSWORD_SERVICES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) throw new UsageError(`--only takes ${PASSWORD_SERVICES.join(", ")} (comma-separated)${unknown.length ? `, not ${unknown.join(", ")}` : ""}`);
  return names as PasswordService[];
}

interface Arguments {
  members: string[];
  all: boolean;
  configFile: string;
  only: PasswordService[] | undefined;
  stack: string | undefined;
}

function parse(argv: string[]): Arguments {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { only: { type: "string" }, stack: { type: "string" }, all: { type: "boolean" } } });
  const files = positionals.filter((p) => /\.ya?ml$/i.test(p));
  const members = positionals.filter((p) => !/\.ya?ml$/i.test(p));
  if (files.length > 1) throw new UsageError(`one association file at most, not ${files.join(" and ")}`);
  const all = values.all === true;
  if (all === members.length > 0) throw new UsageError(all ? "--all or member ids, not both" : "");
  return { members, all, configFile: requireAssociationFile(files[0], "first-password"), only: servicesOf(values.only), stack: values.stack };
}

const credentialSources = (stack: string | undefined, language: Language) => ({ env: process.env, stackOutput: () => pulumiStackOutput({ cwd: process.cwd(), language, ...(stack ? { stack } : {}) }) });

/** One enrollment per member through the identity provider. */
async function enroll(config: Association, args: Arguments): Promise<number> {
  if (args.only) throw new UsageError("--only is for the per-service passwords; with the identity provider each member has one password for every service");
  const users = desiredState(config).identity!.users;
  const unknown = args.members.filter((id) => !users.some((u) => u.username === id.toLowerCase()));
  if (unknown.length > 0) throw new UsageError(`not in ${args.configFile}: ${unknown.join(", ")} (members[].id)`);
  const chosen = args.all ? users : users.filter((u) => args.members.some((id) => id.toLowerCase() === u.username));
  const byMail = config.mail !== undefined;
  if (!byMail && !process.stdout.isTTY) {
    console.error(NOT_ON_A_TERMINAL[languageOf(config)]);
    return 2;
  }
  const credentials = loadCredentials({ nextcloud: false, matrix: false, identity: true }, credentialSources(args.stack, languageOf(config)));
  const client = await openIdentityClient(config, credentials, { env: process.env });
  const result = await enrollMembers(client, chosen, { byMail, minimumLength: config.services.identity.passwords.minimumLength });
  process.stdout.write(formatEnrollment(result, `https://${hostnames(config).identity}`));
  return result.failed.length > 0 ? 1 : 0;
}

/** The former way: a temporary password in each service, for one member. */
async function perService(config: Association, args: Arguments): Promise<number> {
  if (args.all || args.members.length !== 1) throw new UsageError("without the identity provider, one member at a time");
  // Shown once, to a person: never into a file, a pipe or a CI log. Checked before anything changes.
  if (!process.stdout.isTTY) {
    console.error(NOT_ON_A_TERMINAL[languageOf(config)]);
    return 2;
  }
  const accounts = memberAccounts(config, desiredState(config), args.members[0]!, args.only);
  const credentials = loadCredentials({ nextcloud: accounts.nextcloud !== undefined, matrix: accounts.matrix !== undefined }, credentialSources(args.stack, languageOf(config)));
  const clients = await openClients(config, accounts, credentials, { env: process.env });
  try {
    await checkAccounts(accounts, clients);
    const result = await setFirstPasswords(accounts, clients);
    process.stdout.write(formatPasswords(accounts, result));
    return result.failed.length > 0 ? 1 : 0;
  } finally {
    // Ends this tool's own session (its device); the provisioner's session is left as it is.
    await clients.matrix?.close().catch(() => {});
  }
}

async function main(argv: string[]): Promise<number> {
  answerHelp(argv, USAGE);
  const usage = usageLine(USAGE[localeLanguage()]);
  let args: Arguments;
  try {
    args = parse(argv);
  } catch (error) {
    console.error([(error as Error).message, usage].filter(Boolean).join("\n"));
    return 2;
  }
  const config = loadAssociation(args.configFile);
  try {
    return await (config.services.identity.enabled ? enroll(config, args) : perService(config, args));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error([error.message, usage].filter(Boolean).join("\n"));
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
