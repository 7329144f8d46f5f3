// `npm run report` end to end: the real CLI, real Chromium, and poppler to read the PDF
// back. Two Chromium launches in all (French, English): they are the slow part.
import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { registerDocumentSchema } from "../../policies/reports/document.ts";
import { chromiumArguments, findChromium } from "../../policies/reports/pdf.ts";
import { exampleInput } from "../support/association.ts";
import { pdfPages, pdfText } from "../support/pdf.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function report(args: string[]) {
  return run(process.execPath, ["--import", "tsx", "policies/reports/cli.ts", ...args], { cwd: ROOT });
}

test.before(() => {
  requireProgram("chromium", "chromium");
  requireProgram("pdfinfo", "poppler-utils");
});

test("npm run report writes the French register as JSON, HTML and a PDF Chromium printed", (t) => {
  const out = scratch();
  const result = report(["examples/association.yaml", "--out", out]);
  t.is(result.status, 0, result.stderr);
  for (const name of ["register.json", "register.html", "register.pdf"]) t.true(existsSync(join(out, name)), name);

  const json = registerDocumentSchema.parse(JSON.parse(readFileSync(join(out, "register.json"), "utf8")));
  t.is(json.language, "fr", "the organisation's language is the default");
  t.is(json.source, "examples/association.yaml");

  const pdf = join(out, "register.pdf");
  t.is(readFileSync(pdf).subarray(0, 5).toString(), "%PDF-");
  t.true(pdfPages(pdf) > 1);
  const text = pdfText(pdf);
  t.true(text.includes("Registre des activités de traitement"));
  for (const service of ["Jitsi Meet", "Nextcloud", "Matrix", "Element", "Framadate", "WireGuard", "Caddy"]) t.true(text.includes(service), service);
  t.true(text.includes("Claire Dubois"), "the DPO is named");
  t.true(text.includes("Les Jardins Partagés du Canal"));
  t.true(text.includes("Bastide ne fait aucune sauvegarde"));
  // The identity provider's measures, as Chromium printed them.
  t.true(text.includes("Chaque membre a un seul compte, sur https://connexion."));
  t.true(text.includes("Keycloak ne peut pas vérifier qu’un mot de passe figure dans une liste de mots de passe divulgués"));
});

test("--lang en prints the English record, with the host's provider", (t) => {
  const input = exampleInput();
  input.domain = "asso-exemple.fr";
  input.host = {
    target: "hetzner",
    location: "hel1",
    serverType: "cx42",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastideTestKeyOnlyForTests admin@laptop",
    adminAddresses: ["203.0.113.7/32"],
  };
  input.services.jitsi = { enabled: false };
  const dir = scratch({ "association.yaml": stringify(input) });
  const out = join(dir, "report");
  const result = report([join(dir, "association.yaml"), "--lang", "en", "--out", out]);
  t.is(result.status, 0, result.stderr);

  const pdf = join(out, "register.pdf");
  t.true(pdfPages(pdf) > 1);
  const text = pdfText(pdf);
  t.true(text.includes("Record of processing activities"));
  t.false(text.includes("Registre des activités de traitement"));
  t.true(text.includes("Hetzner Online GmbH"));
  t.true(text.includes("Finland"), "hel1 is in Finland");
  t.false(text.includes("Jitsi"), "a service turned off is not in the record");
  // Titles sit in a narrow column, interleaved in the PDF's text; the details read whole.
  t.true(text.includes("Each member has one account, at https://connexion.asso-exemple.fr (Keycloak)"));
  t.true(text.includes("Every member, whatever their role, logs in with a second factor"));
  t.true(text.includes("Claire Dubois"));
});

test("npm run report refuses a bad config or language before printing anything", (t) => {
  const out = scratch();
  const missing = report(["no/such/file.yaml", "--out", out, "--no-pdf"]);
  t.is(missing.status, 1);
  // A missing file is said to be missing (issue 9, "How errors read").
  t.regex(missing.stderr, /no\/such\/file\.yaml does not exist; nothing was created or changed/);
  const language = report(["examples/association.yaml", "--lang", "de", "--out", out]);
  t.is(language.status, 1);
  t.regex(language.stderr, /--lang de: must be fr or en/);
  t.false(existsSync(join(out, "register.pdf")));

  const htmlOnly = report(["examples/association.yaml", "--out", out, "--no-pdf"]);
  t.is(htmlOnly.status, 0, htmlOnly.stderr);
  t.true(existsSync(join(out, "register.html")));
  t.false(existsSync(join(out, "register.pdf")));
});

test("Chromium runs with a fresh profile, headless, without network extras", (t) => {
  const args = chromiumArguments("/tmp/profile-x", "/tmp/a b/register.html", "/tmp/out.pdf");
  for (const flag of ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--no-pdf-header-footer"])
    t.true(args.includes(flag), flag);
  t.true(args.includes("--user-data-dir=/tmp/profile-x"));
  t.true(args.includes("--print-to-pdf=/tmp/out.pdf"));
  t.is(args.at(-1), "file:///tmp/a%20b/register.html");
  t.is(findChromium({ BASTIDE_CHROMIUM: "/opt/chromium" }), "/opt/chromium");
  t.throws(() => findChromium({ PATH: scratch() }), { message: /apt-get install chromium/ });
});
