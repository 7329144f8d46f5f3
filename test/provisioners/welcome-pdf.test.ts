// `npm run sheets`: the real command, every member's sheet, and the admin's one PDF printed
// by real Chromium and read back with poppler: each member on their own pages, with who to
// ask, the privacy notice, the apps, their own calendar address, and no secret; files 0600.
import test from "ava";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { desiredState } from "../../provisioners/desired.ts";
import { BOOKLET_FILE, writeSheets } from "../../provisioners/welcome/cli.ts";
import { privacyNoticeAddress } from "../../provisioners/welcome/contacts.ts";
import { welcomeSheets } from "../../provisioners/welcome/sheet.ts";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { pdfPages, pdfText } from "../support/pdf.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test.before(() => {
  requireProgram("chromium", "chromium");
  requireProgram("pdftotext", "poppler-utils");
});

/** Every file and folder under `dir`, with its permission bits. */
function modes(dir: string, prefix = ""): Record<string, number> {
  const found: Record<string, number> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    found[`${prefix}${name}`] = statSync(path).mode & 0o777;
    if (statSync(path).isDirectory()) Object.assign(found, modes(path, `${prefix}${name}/`));
  }
  return found;
}

test("npm run sheets: one PDF of every sheet, Chromium-printed, carrying contacts, app links and each member's calendar address; files 0600", async (t) => {
  const out = join(scratch(), "welcome");
  const result = run(process.execPath, ["--import", "tsx", "provisioners/welcome/cli.ts", "examples/association.yaml", "--out", out], { cwd: ROOT });
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /4 welcome sheets written/);

  const config = exampleAssociation();
  const expectedModes: Record<string, number> = { [BOOKLET_FILE]: 0o600 };
  for (const m of config.members) Object.assign(expectedModes, { [m.id]: 0o700, [`${m.id}/welcome.html`]: 0o600, [`${m.id}/welcome.txt`]: 0o600 });
  t.deepEqual(modes(out), expectedModes, "nothing else is left (the booklet's HTML is removed), and nothing is readable by others");

  // The per-member files are the sheets the handover folder gets, byte for byte.
  const sheets = await welcomeSheets(config, desiredState(config));
  for (const m of config.members) t.is(readFileSync(join(out, m.id, "welcome.html"), "utf8"), sheets[m.id]!.html);

  const pdf = join(out, BOOKLET_FILE);
  t.is(readFileSync(pdf).subarray(0, 5).toString(), "%PDF-");
  t.true(pdfPages(pdf) >= config.members.length, "at least one page per member");
  const text = pdfText(pdf);
  for (const m of config.members) {
    t.true(text.includes(m.language === "en" ? `Welcome, ${m.name}` : `Bienvenue, ${m.name}`), m.id);
    // The exact CalDAV address with the member's own principal, Nextcloud 34's path.
    t.true(text.includes(`https://cloud.jardins-canal.localhost/remote.php/dav/principals/users/${m.id}/`), `${m.id}: calendar address`);
  }
  t.true(text.includes("https://cloud.jardins-canal.localhost/remote.php/dav"));
  // Who to ask: the admin by name and e-mail, the association, the DPO; the privacy notice.
  t.true(text.includes("Pour une question ou un problème avec ces outils : Claire Dubois, claire.dubois@jardins-canal.localhost"));
  t.true(text.includes("For a question or a problem with these tools: Claire Dubois, claire.dubois@jardins-canal.localhost"), "Tom reads English");
  t.true(text.includes("contact@jardins-canal.localhost"));
  t.true(text.includes("dpo@jardins-canal.localhost"));
  t.true(text.includes(privacyNoticeAddress(config, "fr")!));
  t.true(text.includes(privacyNoticeAddress(config, "en")!));
  // The apps, with their links.
  for (const link of [
    "https://play.google.com/store/apps/details?id=com.nextcloud.client",
    "https://play.google.com/store/apps/details?id=im.vector.app",
    "https://apps.apple.com/app/element-messenger/id1083446067",
    "https://itunes.apple.com/us/app/jitsi-meet/id1165103905",
    "https://f-droid.org/packages/at.bitfire.davdroid/",
    "https://www.wireguard.com/install/",
  ])
    t.true(text.includes(link), link);
  t.true(text.includes("Ajouter un compte CalDAV"), "the iPhone's steps");
  t.true(text.includes("Vous êtes déjà dans l'espace de l'association et dans les salons de vos équipes"));
  t.true(text.includes("Vous n'en avez pas besoin pour vos fichiers"), "what the VPN is for, in plain words");
  t.notRegex(text, /PrivateKey|\[Interface\]|<secret:/, "no profile, no secret");
});

test("an English association's booklet is in English; a file Bastide refuses writes nothing", async (t) => {
  const dir = scratch();
  const input = exampleInput();
  input.organisation.language = "en";
  const file = join(dir, "association.yaml");
  writeFileSync(file, stringify(input));
  const files = await writeSheets({ file, out: join(dir, "out"), pdf: true });
  const text = pdfText(files.pdf!);
  t.true(text.includes("Welcome, Léa Moreau"));
  t.false(text.includes("Bienvenue"), "every member reads the association's English here, Tom too");

  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, stringify({ ...input, members: [] }));
  const result = run(process.execPath, ["--import", "tsx", "provisioners/welcome/cli.ts", bad, "--out", join(dir, "never")], { cwd: ROOT });
  t.is(result.status, 1);
  t.regex(result.stderr, /members/);
  t.throws(() => readdirSync(join(dir, "never")), { code: "ENOENT" }, "nothing written for a refused file");
});

test("npm run sheets without a file says which file it needs, and --help prints the usage", (t) => {
  const none = run(process.execPath, ["--import", "tsx", "provisioners/welcome/cli.ts"], { cwd: ROOT });
  t.is(none.status, 1);
  t.regex(none.stderr, /which association file\? usage: npm run sheets -- <association\.yaml>/);
  const help = run(process.execPath, ["--import", "tsx", "provisioners/welcome/cli.ts", "--help"], { cwd: ROOT });
  t.is(help.status, 0);
  t.regex(help.stdout, /^usage: npm run sheets/);
});
