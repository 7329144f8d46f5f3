// `npm run restore-drill` and `npm run restore` as the admin meets them before anything runs:
// --help, a wrong command line (exit 2 with the usage line), and an association file without a
// backups: section (exit 2, nothing changed). The runs themselves: drill.test.ts.
import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { main as drill } from "../../stacks/backups/drill-cli.ts";
import { main as restore } from "../../stacks/backups/restore-cli.ts";
import { exampleInput } from "../support/association.ts";

const ENGLISH = { LANG: "C.UTF-8" };
const FRENCH = { LANG: "fr_FR.UTF-8" };

function recorder() {
  const printed = { log: [] as string[], error: [] as string[] };
  return { printed, out: { log: (t: string) => printed.log.push(t), error: (t: string) => printed.error.push(t) } };
}

for (const [name, main] of [["restore-drill", drill], ["restore", restore]] as const) {
  test(`${name} answers --help in the admin's language`, async (t) => {
    const { printed, out } = recorder();
    t.is(await main(["--help"], FRENCH, out), 0);
    t.regex(printed.log.join(""), new RegExp(`^usage : npm run ${name} -- <chemin/vers/association\\.yaml> \\[--snapshot ID\\]`));
    t.is(await main(["-h"], ENGLISH, out), 0);
    t.regex(printed.log[1]!, new RegExp(`^usage: npm run ${name} -- <path/to/association\\.yaml>`));
  });

  test(`${name} refuses a command line it cannot run, with the usage line, exit 2`, async (t) => {
    const { printed, out } = recorder();
    t.is(await main([], ENGLISH, out), 2);
    t.regex(printed.error[0]!, new RegExp(`No association file given\\. Give its path: npm run ${name} -- path/to/association\\.yaml`));
    t.is(await main(["a.yaml", "b.yaml"], ENGLISH, out), 2);
    t.regex(printed.error[1]!, /one association file, not a\.yaml and b\.yaml\nusage: /);
    t.is(await main(["a.yaml", "--snapshot", "latest; rm -rf /"], ENGLISH, out), 2);
    t.regex(printed.error[2]!, /--snapshot latest; rm -rf \/: a snapshot id is 8 to 64 hexadecimal digits/);
  });
}

test("without a backups: section, the drill and the restore say there is nothing to restore from, exit 2", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), "bastide-restore-cli-")), "association.yaml");
  const input = exampleInput();
  input.organisation.language = "en";
  delete input.backups;
  writeFileSync(file, stringify(input));
  const { printed, out } = recorder();
  t.is(await drill([file], ENGLISH, out), 2);
  t.regex(printed.error[0]!, /no backups: section/);
  t.is(await restore([file], ENGLISH, out), 2);
  t.regex(printed.error[1]!, /no backups: section: there is no repository to restore from\.\nNothing was created or changed\./);
});
