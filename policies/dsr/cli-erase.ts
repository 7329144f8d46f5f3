// `npm run erase-member -- <member id> <config.yaml> --confirm`: erases one member from
// every service, through the provisioners' own erase paths, and writes the record of it
// to out/dsr/<member>-<time>-erasure/. Without --confirm it only shows what it would do.
//
// A member still listed in the config is refused (the next `pulumi up` would give them
// accounts again): remove them first, or pass --force. Other options: --out DIR,
// --stack NAME, --outputs -, --name/--email (to find them in the polls). BASTIDE_NEXTCLOUD_URL
// and BASTIDE_MATRIX_URL, when set, reach those services at another address (an SSH tunnel).
import { answerHelp, languageOf, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { allSecrets, commonArgs, parse, productionTargets, runMain, stackOutputs } from "./cli.ts";
import { eraseMember, refuseListedMember } from "./request.ts";

const USAGE: Localized = {
  en: `usage: npm run erase-member -- <member id> <path/to/association.yaml> --confirm [--force] [--out out/dsr] [--stack NAME] [--outputs -] [--name NAME] [--email ADDRESS]

Erases one member from every service and writes the record of it under out/dsr/. Without
--confirm it only shows what it would do. A member still in the file is refused unless --force.
The credentials come from the stack (npm run deploy's, "local" unless --stack names another),
or from standard input with --outputs -.`,
  fr: `usage : npm run erase-member -- <id de membre> <chemin/vers/association.yaml> --confirm [--force] [--out out/dsr] [--stack NOM] [--outputs -] [--name NOM] [--email ADRESSE]

Efface un membre de tous les services et en écrit le relevé dans out/dsr/. Sans --confirm, montre
seulement ce qui serait fait. Un membre encore dans le fichier est refusé, sauf avec --force.
Les accès viennent de la pile (celle de npm run deploy, « local » sauf --stack), ou de l'entrée
standard avec --outputs -.`,
};

async function main(): Promise<number> {
  answerHelp(process.argv.slice(2), USAGE);
  const { values, positionals } = parse(process.argv.slice(2), {
    confirm: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
  });
  const args = commonArgs(values, positionals, USAGE, "erase-member");
  const config = loadAssociation(args.configFile);
  const confirm = values.confirm === true;
  // Before any connection: a refusal needs neither the stack's credentials nor the server.
  refuseListedMember(config, args.member, values.force === true);
  if (values.force === true && config.members.some((m) => m.id === args.member)) {
    console.error(`WARNING: ${args.member} is still in ${args.configFile}: the next \`pulumi up\` will create new, empty accounts for them unless you remove them from it.`);
  }
  const outputs = await stackOutputs(args, languageOf(config));
  const { targets, close } = await productionTargets(config, outputs);
  try {
    const result = await eraseMember({ config, member: args.member, targets, out: args.out, secrets: allSecrets(outputs), hints: args.hints, confirm, force: values.force === true });
    if (!confirm) {
      process.stdout.write(result.text);
      console.log("\nNothing was changed. Run again with --confirm to erase.");
      return result.record.complete ? 0 : 1;
    }
    const failed = result.record.steps.filter((s) => s.outcome === "failed");
    console.log(`the record: ${result.folder}/record.json and record.txt`);
    for (const step of failed) console.error(`not erased: ${step.service} ${step.part}: ${step.summary.en}${step.error ? ` (${step.error})` : ""}`);
    if (failed.length > 0) console.error("Run the command again once the cause is fixed: what was erased stays erased, the rest is retried.");
    return failed.length === 0 ? 0 : 1;
  } finally {
    await close();
  }
}

runMain(main);
