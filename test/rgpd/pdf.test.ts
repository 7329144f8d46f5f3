// `npm run report` end to end: the real CLI, real Chromium, and poppler to read the PDFs
// back. The register and its companion documents in two languages make 16 PDFs, then 7 for
// the English-only run: Chromium is the slow part.
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

/** Sixteen PDFs at most, four Chromiums at a time: about a minute on a loaded 2-vCPU machine. */
const REPORT_TIMEOUT_MS = 300_000;

function report(args: string[]) {
  return run(process.execPath, ["--import", "tsx", "policies/reports/cli.ts", ...args], { cwd: ROOT, timeoutMs: REPORT_TIMEOUT_MS });
}

test.before(() => {
  requireProgram("chromium", "chromium");
  requireProgram("pdfinfo", "poppler-utils");
});

/** The companion documents' titles as each PDF must print them. */
const COMPANION_TITLES = {
  fr: {
    "notice-members": "Vos données dans les outils de l’association",
    "notice-guests": "Vos données quand vous participez à une réunion de l’association",
    "notice-respondents": "Vos données quand vous répondez à un sondage de l’association",
    "dpia-screening": "Analyse préalable : faut-il une analyse d’impact (AIPD) ?",
    "breach-procedure": "Procédure en cas de violation de données personnelles",
    "requests-procedure": "Procédure pour les demandes d’exercice des droits",
    processors: "Liste des sous-traitants",
  },
  en: {
    "notice-members": "Your data in the association's tools",
    "notice-guests": "Your data when you join one of the association's meetings",
    "notice-respondents": "Your data when you answer one of the association's polls",
    "dpia-screening": "Screening: is a data protection impact assessment (DPIA) needed?",
    "breach-procedure": "Personal data breach procedure",
    "requests-procedure": "Data subject request procedure",
    processors: "List of processors",
  },
};

test("npm run report writes the register and its companion documents in French and English side by side, as PDFs Chromium printed", (t) => {
  t.timeout(REPORT_TIMEOUT_MS);
  const dir = scratch();
  const out = join(dir, "report");
  const history = join(dir, "history.json");
  const result = report(["examples/association.yaml", "--out", out, "--history", history]);
  t.is(result.status, 0, result.stderr);
  t.true(existsSync(history), "the sheets' references and dates are kept");

  for (const language of ["fr", "en"] as const) {
    for (const name of ["register.json", "register.html", "register.pdf"]) t.true(existsSync(join(out, language, name)), `${language}/${name}`);
    const json = registerDocumentSchema.parse(JSON.parse(readFileSync(join(out, language, "register.json"), "utf8")));
    t.is(json.language, language);
    t.is(json.source, "examples/association.yaml");

    const pdf = join(out, language, "register.pdf");
    t.is(readFileSync(pdf).subarray(0, 5).toString(), "%PDF-");
    t.true(pdfPages(pdf) > 1);
    const text = pdfText(pdf);
    t.true(text.includes(language === "fr" ? "Registre des activités de traitement" : "Record of processing activities"));
    for (const sheet of json.activities) {
      t.true(text.includes(`${sheet.reference} · ${sheet.name}`), `${language}: the sheet ${sheet.reference} is headed with its reference`);
      t.true(text.includes(sheet.createdText), `${language}: ${sheet.reference}'s creation date`);
    }
    t.deepEqual(json.activities.map((a) => a.reference), ["T-02", "T-03", "T-04", "T-05", "T-06", "T-07", "T-01"]);
    for (const service of ["Jitsi Meet", "Nextcloud", "Matrix", "Element", "Framadate", "WireGuard", "Caddy"]) t.true(text.includes(service), service);
    t.true(text.includes("Claire Dubois"), "the DPO is named");
    t.true(text.includes("Martine Lefèvre"), "the legal representative is named");
    t.true(text.includes("Les Jardins Partagés du Canal"));

    for (const [id, title] of Object.entries(COMPANION_TITLES[language])) {
      const companion = join(out, language, `${id}.pdf`);
      t.true(existsSync(join(out, language, `${id}.html`)), `${language}/${id}.html`);
      t.true(pdfPages(companion) >= 1, `${language}/${id}.pdf`);
      t.true(pdfText(companion).includes(title), `${language}/${id}.pdf prints its title`);
    }
  }
  const french = pdfText(join(out, "fr", "register.pdf"));
  t.true(french.includes("Date de création de la fiche"));
  t.true(french.includes("Bastide ne fait aucune sauvegarde"));
  // The identity provider's measures, as Chromium printed them.
  t.true(french.includes("Chaque membre a un seul compte, sur https://connexion."));
  t.true(french.includes("Keycloak ne peut pas vérifier qu’un mot de passe figure dans une liste de mots de passe divulgués"));
  t.true(french.includes("aussi administrateur des services"), "the DPO who is also an admin is flagged");
  t.true(pdfText(join(out, "fr", "breach-procedure.pdf")).includes("Registre des violations"));
  // pdftotext drops the hyphen of a word cut at the end of a line.
  t.regex(pdfText(join(out, "fr", "requests-procedure.pdf")), /« export-?member »[\s\S]*« erase-?member »/);
});

test("--lang en prints the English record only, with the host's provider", (t) => {
  t.timeout(REPORT_TIMEOUT_MS);
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
  t.false(existsSync(join(out, "fr")), "--lang keeps one language");
  t.true(existsSync(join(dir, "association.register-history.json")), "the history file lands beside the association file");

  const pdf = join(out, "en", "register.pdf");
  t.true(pdfPages(pdf) > 1);
  const text = pdfText(pdf);
  t.true(text.includes("Record of processing activities"));
  t.false(text.includes("Registre des activités de traitement"));
  t.true(text.includes("Hetzner Online GmbH"));
  t.true(text.includes("Finland"), "hel1 is in Finland");
  t.false(text.includes("Jitsi"), "a service turned off is not in the record");
  t.false(existsSync(join(out, "en", "notice-guests.pdf")), "no meetings, no notice for meeting guests");
  // Titles sit in a narrow column, interleaved in the PDF's text; the details read whole.
  t.true(text.includes("Each member has one account, at https://connexion.asso-exemple.fr (Keycloak)"));
  t.true(text.includes("Every member, whatever their role, logs in with a second factor"));
  t.true(text.includes("Claire Dubois"));
  // A table cell's lines come out one cell at a time.
  t.true(pdfText(join(out, "en", "processors.pdf")).includes("Hetzner Online"));
});

test("npm run report refuses a bad config or language before printing anything", (t) => {
  const dir = scratch();
  const out = join(dir, "report");
  const history = join(dir, "history.json");
  const missing = report(["no/such/file.yaml", "--out", out, "--no-pdf", "--history", history]);
  t.is(missing.status, 1);
  // A missing file is said to be missing (issue 9, "How errors read").
  t.regex(missing.stderr, /no\/such\/file\.yaml does not exist; nothing was created or changed/);
  const language = report(["examples/association.yaml", "--lang", "de", "--out", out, "--history", history]);
  t.is(language.status, 1);
  t.regex(language.stderr, /--lang de: must be fr or en/);
  t.false(existsSync(out));
  t.false(existsSync(history));

  const htmlOnly = report(["examples/association.yaml", "--out", out, "--no-pdf", "--history", history]);
  t.is(htmlOnly.status, 0, htmlOnly.stderr);
  t.true(existsSync(join(out, "fr", "register.html")));
  t.true(existsSync(join(out, "en", "notice-members.html")));
  t.false(existsSync(join(out, "fr", "register.pdf")));
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
