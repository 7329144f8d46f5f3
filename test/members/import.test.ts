// The member import on generated sheets: separators, BOM, CRLF, hard names, clashes,
// duplicates, a re-import with changes, errors at their line and column, comments kept.
import test from "ava";
import { readFileSync } from "node:fs";
import { ConfigError } from "../../stacks/config/load.ts";
import { loadAssociation, parseAssociation } from "../../stacks/config/load.ts";
import { applyImport, associationDocument, validatedText } from "../../stacks/config/members/document.ts";
import { exportCsv } from "../../stacks/config/members/export.ts";
import { importOptions, planImport, type ImportPlan } from "../../stacks/config/members/merge.ts";
import { decodeUtf8, readCsv } from "../../stacks/config/members/sheet.ts";
import { EXAMPLE_FILE } from "../support/association.ts";

const EXAMPLE = readFileSync(EXAMPLE_FILE, "utf8");
const FR = importOptions("fr");

/** Imports `csv` into `yaml` as the command does, leavers removed; the written text and the plan. */
function importInto(yaml: string, csv: string, removeLeaving = true): { text: string; plan: ImportPlan } {
  const config = parseAssociation(yaml, "association.yaml");
  const sheet = readCsv(csv, "members.csv");
  const plan = planImport(sheet, config, FR);
  const doc = associationDocument(yaml);
  applyImport(doc, plan, removeLeaving);
  return { text: validatedText(yaml, doc, plan, sheet, "association.yaml").text, plan };
}

const problemsOf = (run: () => unknown) => {
  const error = (() => {
    try {
      run();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`);
};

const HEADER = "Nom;Prénom;E-mail;Rôle;Équipes;Appareils";
const ROWS = [
  "Dubois;Claire;claire.dubois@jardins-canal.localhost;admin;Bureau;1",
  "Nguyễn;Thị Ánh;anh@asso.fr;bénévole;Communication & Réseaux, Équipe potager;",
  "d'Arçon-Ménard;Éloïse;eloise@asso.fr;salariée;Bureau;2",
  "Dupont;Marie;marie1@asso.fr;;;",
  "Dupont;Marie;marie2@asso.fr;;;",
];

for (const [label, encode] of [
  ["; with CRLF and a BOM", (rows: string[]) => `\uFEFF${rows.join("\r\n")}\r\n`],
  [", with LF", (rows: string[]) => rows.map((r) => r.split(";").map((c) => (c.includes(",") ? `"${c}"` : c)).join(",")).join("\n")],
  ["tabs with CR", (rows: string[]) => rows.map((r) => r.replaceAll(";", "\t")).join("\r")],
] as const) {
  test(`a sheet with ${label} reads to the same members, with ids from the names`, (t) => {
    const { text, plan } = importInto(EXAMPLE, encode([HEADER, ...ROWS]));
    const config = parseAssociation(text, "written");
    t.deepEqual(config.members.map((m) => m.id), ["claire.dubois", "thi-anh.nguyen", "eloise.arcon-menard", "marie.dupont", "marie.dupont-2"]);
    t.deepEqual(config.members.map((m) => m.name), ["Claire Dubois", "Thị Ánh Nguyễn", "Éloïse d'Arçon-Ménard", "Marie Dupont", "Marie Dupont"]);
    t.deepEqual(config.members[1]!.teams, ["communication-reseaux", "potager"]);
    t.deepEqual(config.members[2]!.devices, [{ name: "appareil-1" }, { name: "appareil-2" }]);
    t.is(config.members[2]!.role, "staff");
    t.deepEqual(config.members[0]!.devices, [{ name: "laptop" }], "Claire keeps her device's name (its VPN key)");
    t.deepEqual(plan.leaving.map((m) => m.id), ["karim.benali", "lea.moreau", "tom.martin"]);
    t.deepEqual(config.teams.find((team) => team.id === "communication-reseaux")?.name, "Communication & Réseaux");
  });
}

test("the file outside members: and teams: is kept byte for byte, comments included", (t) => {
  const { text } = importInto(EXAMPLE, [HEADER, ...ROWS].join("\n"));
  const before = EXAMPLE.slice(0, EXAMPLE.indexOf("\nteams:"));
  t.is(text.slice(0, text.indexOf("\nteams:")), before);
  t.true(text.includes("# Outgoing mail (optional)"));
});

test("comments inside members: stay with their member", (t) => {
  const yaml = EXAMPLE.replace("  - id: karim.benali\n", "  # Karim keeps the keys of the shed\n  - id: karim.benali\n").replace("role: staff\n", "role: staff # until June\n");
  const { text } = importInto(yaml, [HEADER, ...ROWS, "Benali;Karim;karim.benali@jardins-canal.localhost;admin;Bureau;2"].join("\n"), true);
  t.regex(text, /# Karim keeps the keys of the shed\n  - id: karim.benali/);
  t.regex(text, /role: admin # until June/);
});

test("a re-import with changes keeps every id, even when the order and the names change", (t) => {
  const first = importInto(EXAMPLE, [HEADER, ...ROWS].join("\n")).text;
  const changed = [HEADER, ROWS[4]!, ROWS[3]!.replace("Marie;", "Marie-Anne;"), "Dupont;Marie;marie3@asso.fr;;;", ROWS[0]!.replace("Bureau;1", "Bureau, Atelier vélo;0"), ROWS[2]!, ROWS[1]!];
  const { text, plan } = importInto(first, changed.join("\n"));
  const config = parseAssociation(text, "again");
  const idOf = (email: string) => config.members.find((m) => m.email === email)?.id;
  t.is(idOf("marie1@asso.fr"), "marie.dupont");
  t.is(idOf("marie2@asso.fr"), "marie.dupont-2");
  t.is(idOf("marie3@asso.fr"), "marie.dupont-3");
  t.is(idOf("anh@asso.fr"), "thi-anh.nguyen");
  t.deepEqual(plan.arriving.map((m) => m.id), ["marie.dupont-3"]);
  t.deepEqual(
    plan.changing.map(({ member, changes }) => `${member.id}: ${changes.map((c) => `${c.field} ${c.from} → ${c.to}`).join("; ")}`),
    ["marie.dupont: name Marie Dupont → Marie-Anne Dupont", "claire.dubois: teams bureau → bureau, atelier-velo; devices laptop → —"],
  );
  t.deepEqual(plan.newTeams.map((team) => team.id), ["atelier-velo"]);
});

test("a member no longer listed keeps their place unless leavers are removed; their id is never given again", (t) => {
  const { text } = importInto(EXAMPLE, [HEADER, "Moreau;Léa;lea.new@asso.fr;admin;;"].join("\n"), false);
  const config = parseAssociation(text, "kept");
  t.deepEqual(config.members.map((m) => m.id), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin", "lea.moreau-2"]);
});

test("an id written in the sheet is kept, and no id folded from a name takes it first", (t) => {
  const csv = ["Nom;E-mail;Identifiant", "Marie Dupont;marie1@asso.fr;", "Autre Personne;autre@asso.fr;marie.dupont"].join("\n");
  const { text } = importInto(EXAMPLE, csv, false);
  const config = parseAssociation(text, "ids");
  t.is(config.members.find((m) => m.email === "autre@asso.fr")?.id, "marie.dupont");
  t.is(config.members.find((m) => m.email === "marie1@asso.fr")?.id, "marie.dupont-2");
});

test("an exported sheet imports back with no change", (t) => {
  const config = loadAssociation(EXAMPLE_FILE.pathname);
  const csv = exportCsv(config, { bom: true });
  t.true(csv.startsWith("\uFEFFIdentifiant;Nom;E-mail;Rôle;Équipes;Appareils;Langue\r\n"));
  const plan = planImport(readCsv(decodeUtf8(Buffer.from(csv), "x.csv"), "x.csv"), config, FR);
  t.deepEqual([plan.arriving, plan.changing, plan.leaving, plan.newTeams].map((l) => l.length), [0, 0, 0, 0]);
});

test("a name a spreadsheet would run as a formula is exported as text and imported back as written", (t) => {
  const { text } = importInto(EXAMPLE, [HEADER, ...ROWS, `"=HYPERLINK(""http://x"")";@Jo;jo@asso.fr;;;`].join("\n"));
  const config = parseAssociation(text, "written");
  t.is(config.members.at(-1)!.name, `@Jo =HYPERLINK("http://x")`);
  const csv = exportCsv(config, { bom: false });
  t.true(csv.includes(`;"'@Jo =HYPERLINK(""http://x"")";`), csv);
  const again = planImport(readCsv(csv, "x.csv"), config, FR);
  t.deepEqual([again.arriving, again.changing, again.leaving].map((l) => l.length), [0, 0, 0]);
});

test("cells that cannot be read are refused with their line and column, before anything is written", (t) => {
  const csv = [
    "Nom;E-mail;Statut;Équipes;VPN",
    "Claire Dubois;claire.dubois@jardins-canal.localhost;présidente;Bureau;1",
    "Sans Adresse;;bénévole;;",
    "Karim Benali;karim@;staff;;deux",
    "Léa Moreau;claire.dubois@jardins-canal.localhost;bénévole;;",
  ].join("\r\n");
  t.deepEqual(problemsOf(() => planImport(readCsv(csv, "m.csv"), loadAssociation(EXAMPLE_FILE.pathname), FR)), [
    `column "Statut" (line 2): "présidente" is not a role: write admin, staff or volunteer (or administrateur, salarié, bénévole)`,
    `column "E-mail" (line 3): is empty: every member needs an e-mail address`,
    `column "E-mail" (line 4): "karim@" must be an e-mail address such as dpo@asso-exemple.fr`,
    `column "VPN" (line 4): "deux" is not a number of devices: write 0 to 20, or oui/non`,
    `column "E-mail" (line 5): "claire.dubois@jardins-canal.localhost" is already on line 2: one line per member; remove or merge one of the two`,
  ]);
});

test("a member the config refuses is named by sheet line and column (a volunteer with a VPN device)", (t) => {
  const csv = [HEADER, ...ROWS, "Martin;Tom;tom@asso.fr;bénévole;;1"].join("\n");
  const problems = problemsOf(() => importInto(EXAMPLE, csv));
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^column "Appareils" \(line 7\): only admin and staff members get VPN access/);
});

test("a broken sheet is refused with the line: unclosed quote, extra cells, missing columns, not UTF-8", (t) => {
  t.deepEqual(problemsOf(() => readCsv('Nom;E-mail\nA;a@b.fr\nB;"b@b.fr\nC;c@b.fr\n', "m.csv")), [` (line 4): the sheet ends inside a quoted cell: a quote (") on this line or one above is never closed; close it or remove it`]);
  t.regex(problemsOf(() => readCsv("Nom;E-mail\r\nA;a@b.fr\r\nB;b@b.fr;x\r\n", "m.csv"))[0]!, /^ \(line 3\): this line has more cells than the header/);
  t.regex(problemsOf(() => readCsv("Nom;Téléphone\nA;06\n", "m.csv"))[0]!, /^ \(line 1\): has no e-mail column/);
  const latin1 = Buffer.concat([Buffer.from("Nom;E-mail\nA;a@b.fr\nL"), Buffer.from([0xe9]), Buffer.from("a;l@b.fr\n")]);
  t.regex(problemsOf(() => decodeUtf8(latin1, "m.csv"))[0]!, /^ \(line 3\): is not UTF-8 text/);
});
