// `npm run deploy -- <association.yaml> [--stack NAME]`: deploys an association to the
// Docker engine its `host:` names, with Pulumi's local file backend (cli/stack.ts): no
// Pulumi account, the state and the passphrase under ~/.bastide.
//
// Before anything is created it checks, in this order, and stops with what to do: the
// file; the Docker engine (local or SSH targets; a cloud target's server does not exist
// yet); the Pulumi CLI, downloaded by the npm launcher when the admin has none, after
// saying from where (cli/pulumi-cli.ts); the secrets only the admin can supply.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { loadAssociation } from "../stacks/config/load.ts";
import type { Association } from "../stacks/config/schema.ts";
import { CONFIG_NAMESPACE, suppliedSecrets } from "../stacks/config/supplied.ts";
import { failure } from "../stacks/offline/failure.ts";
import { dockerTargetFor } from "../provisioners/connections.ts";
import { dockerFor } from "../provisioners/runtime/docker.ts";
import { answerHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "./command.ts";
import { NOTHING_CHANGED } from "./messages.ts";
import { ensurePulumiCli, PROJECT_DIR, runPulumi, type FoundCli } from "./pulumi-cli.ts";
import { adminStack, prepareState, pulumiEnvironment, type AdminStack, type Env } from "./stack.ts";

const USAGE: Localized = {
  en: `usage: npm run deploy -- <path/to/association.yaml> [--stack NAME]

Deploys the association to the Docker engine its host: names (the local one: DOCKER_HOST, or
/var/run/docker.sock). Pulumi keeps the state in ~/.bastide/pulumi (BASTIDE_STATE_DIR moves
~/.bastide), on the stack "local" unless --stack names another; the passphrase that encrypts
the stack's secrets is generated once into ~/.bastide/passphrase (0600) and never printed.
The Pulumi CLI is the one on your PATH, or else Pulumi's own, downloaded on first use.
Example: npm run deploy -- examples/association.yaml`,
  fr: `usage : npm run deploy -- <chemin/vers/association.yaml> [--stack NOM]

Déploie l'association sur le moteur Docker que désigne son host: (le local : DOCKER_HOST, ou
/var/run/docker.sock). Pulumi garde l'état dans ~/.bastide/pulumi (BASTIDE_STATE_DIR déplace
~/.bastide), sur la pile « local » sauf si --stack en nomme une autre ; la phrase secrète qui
chiffre les secrets de la pile est créée une fois dans ~/.bastide/passphrase (0600), jamais affichée.
La commande Pulumi est celle de votre PATH, ou sinon celle de Pulumi, téléchargée au premier usage.
Exemple : npm run deploy -- examples/association.yaml`,
};

const messages = {
  noEngine: (engine: string, reason: string, local: boolean): Localized => ({
    en: `No Docker engine answers at ${engine} (${reason}). ${
      local
        ? "Start Docker (sudo systemctl start docker, or open Docker Desktop), check that your user may use it (docker info; the docker group), or set DOCKER_HOST to the engine's address."
        : "Check that the server is up, that ssh to it works without a password prompt (ssh-agent), and that its user may use Docker."
    }`,
    fr: `Aucun moteur Docker ne répond à ${engine} (${reason}). ${
      local
        ? "Démarrez Docker (sudo systemctl start docker, ou ouvrez Docker Desktop), vérifiez que votre utilisateur peut s'en servir (docker info ; le groupe docker), ou donnez l'adresse du moteur dans DOCKER_HOST."
        : "Vérifiez que le serveur tourne, que ssh s'y connecte sans demander de mot de passe (ssh-agent) et que son utilisateur peut se servir de Docker."
    }`,
  }),
  missingSecret: (file: string, key: string, stack: string): Localized => ({
    en: `${file} needs the secret ${key}, which the stack does not have. Set it, then run npm run deploy again:\n  npm run pulumi -- config set --secret --stack ${stack} ${key} '<value>'`,
    fr: `${file} demande le secret ${key}, que la pile n'a pas. Donnez-le, puis relancez npm run deploy :\n  npm run pulumi -- config set --secret --stack ${stack} ${key} '<valeur>'`,
  }),
  passphraseCreated: (s: AdminStack): Localized => ({
    en: `The passphrase that encrypts the stack's secrets is in ${s.passphraseFile} (readable by you only; Pulumi reads it from there, it is never shown). Keep a copy somewhere safe: without it the stack's secrets cannot be read.`,
    fr: `La phrase secrète qui chiffre les secrets de la pile est dans ${s.passphraseFile} (lisible par vous seul ; Pulumi la lit là, elle n'est jamais affichée). Gardez-en une copie en lieu sûr : sans elle, les secrets de la pile sont illisibles.`,
  }),
  pulumiFailed: (step: string): Localized => ({
    en: `pulumi ${step} failed (its message is above).`,
    fr: `pulumi ${step} a échoué (son message est ci-dessus).`,
  }),
};

/** The engine the stack deploys to, as the admin would write it, and how to reach it; none for a server still to create. */
function deployEngine(config: Association, env: Env): { address: string; docker: Docker; local: boolean } | undefined {
  const host = config.host;
  // The Pulumi Docker provider reads DOCKER_HOST as dockerode does.
  if (host.target === "local") return { address: env.DOCKER_HOST || "unix:///var/run/docker.sock", docker: new Docker(), local: true };
  if (host.target === "ssh") return { address: `ssh://${host.user}@${host.address}:${host.port}`, docker: dockerFor(dockerTargetFor(config, undefined)), local: false };
  return undefined;
}

/** undefined when the engine answers its ping within the time; otherwise why not. */
async function engineProblem(docker: Docker, timeoutMs = 10_000): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${timeoutMs / 1000} s`), timeoutMs)));
  const ping = docker.ping().then(
    () => undefined,
    (error: Error) => error.message,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the stack's config has the key (`pulumi config get`; the value is read and dropped). */
function hasConfig(cli: FoundCli, stack: AdminStack, key: string): boolean {
  return spawnSync(cli.path, ["config", "get", "--stack", stack.stack, key], { cwd: PROJECT_DIR, env: pulumiEnvironment(stack), stdio: "ignore" }).status === 0;
}

async function main(argv: string[]): Promise<number> {
  answerHelp(argv, USAGE);
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stack: { type: "string" } } });
  if (positionals.length > 1) throw new UsageError(`one association file, not ${positionals.join(" and ")}`);
  const file = requireAssociationFile(positionals[0], "deploy");
  const config = loadAssociation(file);
  const language = languageOf(config);

  const engine = deployEngine(config, process.env);
  if (engine) {
    const problem = await engineProblem(engine.docker);
    if (problem) throw new Error(`${messages.noEngine(engine.address, problem, engine.local)[language]}\n${NOTHING_CHANGED[language]}`);
  }
  const cli = await ensurePulumiCli(language);

  const stack = adminStack({ stack: values.stack });
  if (prepareState(stack) === "passphrase created") console.error(messages.passphraseCreated(stack)[language]);
  const steps: string[][] = [
    ["stack", "select", "--create", stack.stack],
    ["config", "set", "--stack", stack.stack, `${CONFIG_NAMESPACE}:config`, file],
  ];
  for (const step of steps) {
    if ((await runPulumi(cli, stack, step, { quiet: true })) !== 0) throw new Error(messages.pulumiFailed(step.slice(0, 2).join(" "))[language]);
  }
  for (const secret of suppliedSecrets(config)) {
    const key = `${CONFIG_NAMESPACE}:${secret.configKey}`;
    if (!hasConfig(cli, stack, key)) throw new Error(`${messages.missingSecret(file, key, stack.stack)[language]}\n${NOTHING_CHANGED[language]}`);
  }
  return runPulumi(cli, stack, ["up", "--yes", "--stack", stack.stack]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
