// `npm run erase-member -- <member id> [config.yaml] --confirm`: erases one member from
// every service, through the provisioners' own erase paths, and writes the record of it
// to out/dsr/<member>-<time>-erasure/. Without --confirm it only shows what it would do.
//
// A member still listed in the config is refused (the next `pulumi up` would give them
// accounts again): remove them first, or pass --force. Other options: --out DIR,
// --stack NAME, --outputs -, --name/--email (to find them in the polls). BASTIDE_NEXTCLOUD_URL
// and BASTIDE_MATRIX_URL, when set, reach those services at another address (an SSH tunnel).
import { loadAssociation } from "../../stacks/config/load.ts";
import { allSecrets, commonArgs, parse, productionTargets, runMain, stackOutputs } from "./cli.ts";
import { eraseMember, refuseListedMember } from "./request.ts";

const USAGE = "usage: npm run erase-member -- <member id> [path/to/association.yaml] --confirm [--force] [--out out/dsr] [--stack NAME] [--outputs -] [--name NAME] [--email ADDRESS]";

async function main(): Promise<number> {
  const { values, positionals } = parse(process.argv.slice(2), {
    confirm: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
  });
  const args = commonArgs(values, positionals, USAGE);
  const config = loadAssociation(args.configFile);
  const confirm = values.confirm === true;
  // Before any connection: a refusal needs neither the stack's credentials nor the server.
  refuseListedMember(config, args.member, values.force === true);
  if (values.force === true && config.members.some((m) => m.id === args.member)) {
    console.error(`WARNING: ${args.member} is still in ${args.configFile}: the next \`pulumi up\` will create new, empty accounts for them unless you remove them from it.`);
  }
  const outputs = await stackOutputs(args);
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
