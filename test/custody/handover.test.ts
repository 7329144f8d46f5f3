// `npm run handover-page` (issue 11, part 4): the page the association keeps for its next admin,
// read back as parsed HTML: where the state is (a warning while it is only on a laptop), who
// holds the passphrase and the emergency sheet (from the sheet's record, never invented), the
// backups, the restore and drill commands, the handover steps, the current admins. No secret.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "node-html-parser";
import { parseDocument } from "yaml";
import { BACKEND_EXAMPLE } from "../../cli/backend.ts";
import { adminStack } from "../../cli/stack.ts";
import { writeSheetRecord } from "../../policies/custody/emergency.ts";
import { writeHandoverPage } from "../../policies/custody/handover-cli.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { deployedStackState, runCommand } from "../support/cli.ts";

const dirs: string[] = [];
test.after.always(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function setup(edit: (document: ReturnType<typeof parseDocument>) => void = () => {}) {
  const dir = mkdtempSync(join(tmpdir(), "bastide-handover-"));
  dirs.push(dir);
  const document = parseDocument(readFileSync(EXAMPLE_FILE, "utf8"));
  document.setIn(["organisation", "language"], "en");
  edit(document);
  const file = join(dir, "association.yaml");
  writeFileSync(file, String(document));
  return { dir, file, env: deployedStackState(dir) };
}

const NOW = new Date("2026-03-15T10:00:00Z");
/** <pre> parsed as elements, not kept as raw text: the commands are read from their <code>. */
const parsePage = (html: string) => parse(html, { blockTextElements: { script: true, style: true } });
const text = (root: ReturnType<typeof parse>, selector: string) => root.querySelector(selector)?.text.trim();

test("state on the laptop: a warning; no sheet yet and no passphrase holder said: both stated, none invented", (t) => {
  const { dir, file, env } = setup();
  const [html] = writeHandoverPage({ file, out: join(dir, "out"), pdf: false, env, now: NOW });
  t.is(statSync(html!).mode & 0o777, 0o600);
  const root = parsePage(readFileSync(html!, "utf8"));
  t.is(text(root, "h1"), "Handover: keeping the association's server alive");
  t.regex(text(root, "#warning")!, /The Pulumi state is only on the admin's computer \(.*bastide-state\/pulumi\)/);
  t.regex(text(root, "#passphrase-holder")!, /not said: make this page again with --passphrase-holder NAME/);
  t.regex(text(root, "section#emergency-sheet")!, /No emergency sheet has been made for this stack yet: npm run emergency-sheet/);
  t.regex(text(root, "section#backups")!, /No backup is made \(no backups: section in the file\)/);
  const admins = root.querySelectorAll("section#admins dt").map((dt) => dt.text);
  t.deepEqual(admins, ["Claire Dubois"]);
});

test("state in the association's bucket, a sheet on record: where, who and when; the handover steps and commands", (t) => {
  const { dir, file, env } = setup((d) => d.setIn(["backups"], { destination: { type: "s3", endpoint: "s3.fr-par.scw.cloud", bucket: "asso-exemple-backups", country: "FR" } }));
  const remote = { ...env, BASTIDE_BACKEND: BACKEND_EXAMPLE };
  writeSheetRecord(adminStack({ env: remote }), { version: 1, stack: "local", producedAt: "2026-03-01T09:00:00Z", files: ["/home/claire/out/emergency/emergency-sheet.pdf"], holder: "Marc, treasurer" });
  const [html] = writeHandoverPage({ file, out: join(dir, "out"), pdf: false, env: remote, now: NOW, passphraseHolder: "Claire Dubois" });
  const page = readFileSync(html!, "utf8");
  const root = parsePage(page);
  t.is(root.querySelector("#warning"), null);
  t.is(text(root, "#state"), BACKEND_EXAMPLE);
  t.is(text(root, "#passphrase-holder"), "Claire Dubois");
  t.is(text(root, "#sheet-holder"), "Marc, treasurer");
  t.regex(text(root, "section#emergency-sheet")!, /Made on 1 March 2026 \(\/home\/claire\/out\/emergency\/emergency-sheet\.pdf\)/);
  t.regex(text(root, "#backups-where")!, /S3-compatible object storage s3\.fr-par\.scw\.cloud/);
  const commands = root.querySelectorAll("section pre code").map((c) => c.text);
  t.true(commands.includes(`npm run restore-drill -- ${file}`));
  t.true(commands.includes(`npm run restore -- ${file}`));
  t.true(commands.includes("npm run pulumi -- stack change-secrets-provider passphrase"));
  t.true(commands.some((c) => c.includes("config set --secret bastide:backupS3SecretAccessKey")), "S3 backups: their key is rotated too");
  t.true(commands.some((c) => c.startsWith("npm run pulumi -- stack export --file stack.json")));
  t.true(commands.includes(`npm run emergency-sheet -- ${file} --again --holder <NAME>`));
  t.regex(text(root, "section#handover")!, /change the leaving admin's role \(or remove them from members:\)/);
  // The passphrase's file is named; the passphrase itself is not in the page.
  t.false(page.includes("test-passphrase"));
});

test("npm run handover-page: the command writes the page in the association's language; --help answers in the locale", async (t) => {
  const { dir, file, env } = setup((d) => d.setIn(["organisation", "language"], "fr"));
  const result = await runCommand("policies/custody/handover-cli.ts", [file, "--out", join(dir, "out"), "--no-pdf"], { tty: false, env });
  t.is(result.status, 0, result.output);
  t.regex(result.stdout, /written: .*handover\.html/);
  t.is(text(parse(readFileSync(join(dir, "out", "handover.html"), "utf8")), "h1"), "Passation : faire vivre le serveur de l'association");
  const help = await runCommand("policies/custody/handover-cli.ts", ["--help"], { tty: false, env: { LANG: "fr_FR.UTF-8" } });
  t.is(help.status, 0);
  t.regex(help.stdout, /^usage : npm run handover-page/);
});
