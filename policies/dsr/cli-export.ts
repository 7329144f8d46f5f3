// `npm run export-member -- <member id> [config.yaml]`: everything the stack holds about
// one member, from every service, into out/dsr/<member>-<time>/ and a .tar.gz of it
// (personal data: 0700 folders, 0600 files), with record.json and record.txt.
//
// Options: --out DIR (out/dsr), --stack NAME, --outputs - (stack outputs on standard
// input), --name/--email (for a member the config no longer lists), --max-file-mb N,
// --max-media-mb N, --max-messages N. BASTIDE_NEXTCLOUD_URL and BASTIDE_MATRIX_URL, when set,
// reach those services at another address (an SSH tunnel), as for audit and first-password.
import { loadAssociation } from "../../stacks/config/load.ts";
import { allSecrets, commonArgs, limitsFrom, parse, productionTargets, runMain, stackOutputs } from "./cli.ts";
import { exportMember } from "./request.ts";

const USAGE =
  "usage: npm run export-member -- <member id> [path/to/association.yaml] [--out out/dsr] [--stack NAME] [--outputs -] [--name NAME] [--email ADDRESS] [--max-file-mb N] [--max-media-mb N] [--max-messages N]";

async function main(): Promise<number> {
  const { values, positionals } = parse(process.argv.slice(2), {
    "max-file-mb": { type: "string" },
    "max-media-mb": { type: "string" },
    "max-messages": { type: "string" },
  });
  const args = commonArgs(values, positionals, USAGE);
  const limits = limitsFrom(values);
  const config = loadAssociation(args.configFile);
  const outputs = await stackOutputs(args);
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
