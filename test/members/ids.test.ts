// Ids folded from names of every script: what the services get, checked against the config's
// own rules (fields.ts `identifier`, names.ts reserved names).
import test from "ava";
import fc from "fast-check";
import { identifier } from "../../stacks/config/fields.ts";
import { reservedMemberId, reservedTeamId } from "../../stacks/config/names.ts";
import { IdPool, memberIdBase, splitFullName, teamIdBase } from "../../stacks/config/members/ids.ts";

const idOf = (name: string, email = "x@asso.fr") => memberIdBase(splitFullName(name), email, "membre");

const FOLDED: [string, string][] = [
  ["Claire Dubois", "claire.dubois"],
  ["Éloïse d'Arçon-Ménard", "eloise.arcon-menard"],
  ["Søren Kjærgaard", "soren.kjaergaard"],
  ["Bjørn Ødegård", "bjorn.odegard"],
  ["Ærø Åse", "aero.ase"],
  ["Jürgen Großmann", "jurgen.grossmann"],
  ["Trần Đức Thắng", "tran.duc-thang"],
  ["Nguyễn Thị Ánh", "nguyen.thi-anh"],
  ["Łukasz Żółkiewski", "lukasz.zolkiewski"],
  ["İlkay Ağaoğlu", "ilkay.agaoglu"],
  ["Þórunn Guðmundsdóttir", "thorunn.gudmundsdottir"],
  ["Œdipe Cœur", "oedipe.coeur"],
  ["Siobhán O’Brien", "siobhan.obrien"],
  ["Jean-Baptiste de La Fontaine", "jean-baptiste.la-fontaine"],
  ["Charles de Gaulle", "charles.gaulle"],
  ["Ludwig van Beethoven", "ludwig.beethoven"],
  ["Anna dell'Acqua", "anna.acqua"],
  ["Yann Le Goff", "yann.le-goff"],
  ["DUPONT Marie", "marie.dupont"],
  ["Юлия Иванова", "yuliya.ivanova"],
  ["Σωκράτης Παπαδόπουλος", "sokratis.papadopoylos"],
  ["王小明", "wangxiaoming"],
  // Too long for 32 characters: the given name's initial.
  ["Maximilien-Alexandre de La Rochefoucauld-Montmorency", "m.la-rochefoucauld-montmorency"],
];

for (const [name, id] of FOLDED) test(`${name} → ${id}`, (t) => t.is(idOf(name), id));

test("a name that folds to less than an id falls back to the e-mail's local part", (t) => {
  t.is(idOf("X", "x.dupont@asso.fr"), "x-dupont");
  t.is(idOf("?", "?@asso.fr"), "membre");
});

test("team names fold the same way; a name of digits gets the prefix", (t) => {
  t.is(teamIdBase("Communication & Réseaux", "equipe"), "communication-reseaux");
  t.is(teamIdBase("Équipe potager", "equipe"), "equipe-potager");
  t.is(teamIdBase("Ça va l'été ?", "equipe"), "ca-va-lete");
  t.is(teamIdBase("2026", "equipe"), "equipe-2026");
});

test("clashing names get -2, -3...; a reserved name is never given", (t) => {
  const members = IdPool.forMembers();
  t.deepEqual(["marie.dupont", "marie.dupont", "marie.dupont", "recorder", "focus", "bastide"].map((id) => members.claim(id)), [
    "marie.dupont", "marie.dupont-2", "marie.dupont-3", "recorder-2", "focus-2", "bastide-2",
  ]);
  const long = "a".repeat(32);
  t.is(members.claim(long), long);
  t.is(members.claim(long), `${"a".repeat(30)}-2`);
  const teams = IdPool.forTeams();
  t.deepEqual(["association", "admin", "bastide-service"].map((id) => teams.claim(id)), ["association-2", "admin-2", "bastide-service-2"]);
});

test("any name of any script folds to an id the config accepts, never a reserved one, unique in its pool", (t) => {
  const members = IdPool.forMembers();
  const teams = IdPool.forTeams();
  const seen = new Set<string>();
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), fc.string({ unit: "grapheme", maxLength: 40 }), (given, surname) => {
      const id = members.claim(memberIdBase({ given, surname }, "z@asso.fr", "membre"));
      const team = teams.claim(teamIdBase(`${given} ${surname}`, "equipe"));
      for (const [value, reserved] of [[id, reservedMemberId(id)], [team, reservedTeamId(team)]] as const) {
        if (!identifier.safeParse(value).success) throw new Error(`${JSON.stringify(value)} is not an identifier`);
        if (reserved) throw new Error(`${value} is reserved`);
      }
      if (seen.has(id)) throw new Error(`${id} given twice`);
      seen.add(id);
    }),
    { seed: 12, numRuns: 2000 },
  );
  t.is(seen.size, 2000);
});
