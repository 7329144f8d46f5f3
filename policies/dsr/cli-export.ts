// `npm run export-member -- <member id> <config.yaml>`: everything the stack holds about
// one member, from every service, into out/dsr/<member>-<time>/ and a .tar.gz of it
// (personal data: 0700 folders, 0600 files), with record.json and record.txt.
//
// Options: --out DIR (out/dsr), --stack NAME, --outputs - (stack outputs on standard
// input), --name/--email (for a member the config no longer lists), --max-file-mb N,
// --max-media-mb N, --max-messages N. BASTIDE_NEXTCLOUD_URL and BASTIDE_MATRIX_URL, when set,
// reach those services at another address (an SSH tunnel), as for audit and first-password.
import { answerHelp, languageOf, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { allSecrets, commonArgs, limitsFrom, parse, productionTargets, runMain, stackOutputs } from "./cli.ts";
import { exportMember } from "./request.ts";

const USAGE: Localized = {
  en: `usage: npm run export-member -- <member id> <path/to/association.yaml> [--out out/dsr] [--stack NAME] [--outputs -] [--name NAME] [--email ADDRESS] [--max-file-mb N] [--max-media-mb N] [--max-messages N]

Exports everything the stack holds about one member (a data subject's access request) into
out/dsr/, with a record of what was read. The credentials come from the stack (npm run deploy's,
"local" unless --stack names another), or from standard input with --outputs -.`,
  fr: `usage : npm run export-member -- <id de membre> <chemin/vers/association.yaml> [--out out/dsr] [--stack NOM] [--outputs -] [--name NOM] [--email ADRESSE] [--max-file-mb N] [--max-media-mb N] [--max-messages N]

Exporte tout ce que la pile détient sur un membre (demande d'accès d'une personne concernée) dans
out/dsr/, avec le relevé de ce qui a été lu. Les accès viennent de la pile (celle de npm run
deploy, « local » sauf --stack), ou de l'entrée standard avec --outputs -.`,
};

async function main(): Promise<number> {
  answerHelp(process.argv.slice(2), USAGE);
  const { values, positionals } = parse(process.argv.slice(2), {
    "max-file-mb": { type: "string" },
    "max-media-mb": { type: "string" },
    "max-messages": { type: "string" },
  });
  const args = commonArgs(values, positionals, USAGE, "export-member");
  const limits = limitsFrom(values);
  const config = loadAssociation(args.configFile);
  const outputs = await stackOutputs(args, languageOf(config));
  const { targets, close } = await productionTargets(config, outputs);
  try {
    const result = await exportMember({ config, member: args.member, targets, out: args.out, secrets: allSecrets(outputs), hints: args.hints, limits });
    const failed = result.record.steps.filter((s) => s.outcome === "failed");
    console.log(`written: ${result.folder}/ and ${result.archive!.file} (sha256 ${result.archive!.info.sha256})`);
    console.log(`the record: ${result.folder}/record.txt`);
    for (const step of failed) console.error(`incomplete: ${step.service} ${step.part}: ${step.summary.en}${step.error ? ` (${step.error})` : ""}`);
    console.log("Hand the archive to the member over a secure channel, then delete your copies: it is their personal data.");
    return failed.length === 0 ? 0 : 1;
  } finally {
    await close();
  }
}

runMain(main);
