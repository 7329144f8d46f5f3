// The plan in plain words (stacks/summary.ts) on fixtures: addresses, accounts, teams, VPN
// profiles, and who arrives, leaves or changes team against an earlier file; French for a
// French association, English otherwise; no line wider than an 80-column terminal. Then
// `npm run plan --since` end to end, and the resource table's width.
import test from "ava";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { formatTable, offlinePlan, planRows } from "../stacks/offline/plan.ts";
import { planSummary, rosterChanges, rosterOf, TERMINAL_WIDTH } from "../stacks/summary.ts";
import { exampleAssociation, exampleInput } from "./support/association.ts";
import { scratch } from "./support/programs.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const widest = (text: string) => Math.max(...text.split("\n").map((line) => [...line].length));

/** The example a month later: Nina arrives, Tom leaves, Léa moves from potager to évènements and bureau. */
const later = () =>
  exampleAssociation((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "tom.martin");
    input.members.find((m: { id: string }) => m.id === "lea.moreau").teams = ["evenements", "bureau"];
    input.members.push({ id: "nina.roux", name: "Nina Roux", email: "nina.roux@jardins-canal.localhost", teams: ["potager"] });
  });

test("arrivals, departures and team changes between an earlier roster and the config", (t) => {
  const { arrivals, departures, moves } = rosterChanges(rosterOf(exampleAssociation()), later());
  t.deepEqual(arrivals.map((m) => m.id), ["nina.roux"]);
  t.deepEqual(departures.map((m) => m.id), ["tom.martin"]);
  t.deepEqual(moves, [{ member: { id: "lea.moreau", name: "Léa Moreau", teams: ["evenements", "bureau"] }, changes: ["+ Événements", "+ Bureau", "- Équipe potager"] }]);
  const same = rosterChanges(rosterOf(exampleAssociation()), exampleAssociation());
  t.deepEqual(same, { arrivals: [], departures: [], moves: [] }, "nothing changed, nothing reported");
});

test("the French summary: addresses, accounts per service, teams' calendars and rooms, VPN profiles, and the changes", (t) => {
  const text = planSummary(later(), { roster: rosterOf(exampleAssociation()), source: "ancien.yaml" });
  t.true(text.startsWith("Résumé pour Les Jardins Partagés du Canal"));
  t.regex(text, /Fichiers et agendas \(Nextcloud\) +https:\/\/cloud\.jardins-canal\.localhost/);
  t.regex(text, /Discussion \(Element\) +https:\/\/chat\.jardins-canal\.localhost/);
  t.regex(text, /VPN \(WireGuard, UDP\) +vpn\.jardins-canal\.localhost:51820/);
  // Four members after the change; two Jitsi hosts (Claire, Karim), who open meetings with the one login.
  t.regex(text, /Comptes : Keycloak 4, Nextcloud 4, Matrix 4, Jitsi 2 \(animateurs, par la\s+connexion unique\)/);
  t.regex(text, /Équipe potager : agenda \+ salon/);
  t.regex(text, /Profils VPN \(3\) :\n  claire\.dubois : laptop\n  karim\.benali : laptop, phone/);
  t.true(text.includes("Changements depuis ancien.yaml :"));
  t.true(text.includes("Arrivées (1) : Nina Roux (nina.roux)"));
  t.true(text.includes("Départs (1) : Tom Martin (tom.martin)"));
  t.true(text.includes("comptes désactivés aussitôt, effacés après 30 jours"));
  t.true(text.includes("Changements d'équipe (1) :\n    Léa Moreau (lea.moreau) : + Événements, + Bureau, - Équipe potager"));
  t.regex(text, /Sauvegardes : AUCUNE : sans section backups: dans le fichier/);
  t.true(widest(text) <= TERMINAL_WIDTH, `widest line ${widest(text)}`);
});

test("the summary says where the backups go and how long they are kept", (t) => {
  const config = exampleAssociation((input) => {
    input.organisation.language = "en";
    input.backups = { destination: { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" }, time: "03:15" };
  });
  const text = planSummary(config);
  t.regex(text, /Backups: daily at 03:15 UTC, encrypted, to sftp u123456\.your-storagebox\.de; kept\s+93 days at most/);
  t.notRegex(text, /NONE/);
  t.true(widest(text) <= TERMINAL_WIDTH, `widest line ${widest(text)}`);
});

test("the English summary, a team without calendar or room, services switched off, and no earlier run", (t) => {
  const config = exampleAssociation((input) => {
    input.organisation.language = "en";
    input.teams[0].calendar = false;
    input.teams[0].room = false;
    input.services.jitsi = { enabled: false };
    input.services.polls = { enabled: false };
  });
  const text = planSummary(config);
  t.true(text.startsWith("Summary for "));
  t.regex(text, /Bureau: no calendar, no room/);
  t.false(text.includes("Jitsi"), "Jitsi off: no address, no accounts");
  t.false(text.includes("sondage."), "polls off");
  t.true(text.includes("No earlier deployment on record"));
  t.false(text.includes("Résumé"));
  t.true(widest(text) <= TERMINAL_WIDTH);
});

test("long names and many arrivals still fit 80 columns", (t) => {
  const crowd = Array.from({ length: 40 }, (_, i) => ({ id: `membre.${i}`, name: `Marie-Amélie de La Tour d'Auvergne ${i}`, email: `m${i}@jardins-canal.localhost`, teams: ["potager"] }));
  const config = exampleAssociation((input) => {
    input.members.push(...crowd);
  });
  const text = planSummary(config, { roster: rosterOf(exampleAssociation()), source: "examples/association.yaml" });
  t.true(text.includes("Arrivées (40) :"));
  for (const m of crowd) t.true(text.replace(/\n +/g, " ").includes(`${m.name} (${m.id})`), m.id);
  t.true(widest(text) <= TERMINAL_WIDTH, `widest line ${widest(text)}`);
});

test.serial("the resource table fits 80 columns; digests show their first 12 digits", async (t) => {
  const table = formatTable(planRows(await offlinePlan(exampleAssociation())));
  t.true(widest(table) <= TERMINAL_WIDTH, `widest line ${widest(table)}`);
  t.regex(table, /^docker:Container +bastide-nextcloud-app\n {4}nextcloud:[^@\n]+@sha256:[0-9a-f]{12}…\n {4}\d+ MiB/m);
  t.regex(table, /^docker:Container +bastide-proxy-caddy\n.*\n {4}ports 80\/tcp 443\/tcp/m);
});

test("npm run plan --since <old file> starts with the summary and its changes", (t) => {
  const after = exampleInput();
  after.members = after.members.filter((m: { id: string }) => m.id !== "karim.benali");
  const dir = scratch({ "before.yaml": stringify(exampleInput()), "after.yaml": stringify(after) });
  const result = spawnSync(process.execPath, ["--import", "tsx", "stacks/offline/plan.ts", join(dir, "after.yaml"), "--since", join(dir, "before.yaml"), "--out", join(dir, "out")], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  t.is(result.status, 0, result.stderr);
  t.true(result.stdout.startsWith("Résumé pour Les Jardins Partagés du Canal"));
  t.true(result.stdout.replace(/\n/g, " ").includes(`Changements depuis ${join(dir, "before.yaml")}`));
  t.true(result.stdout.includes("Arrivées : aucun"));
  t.true(result.stdout.includes("Départs (1) : Karim Benali (karim.benali)"));
  t.true(result.stdout.indexOf("Résumé") < result.stdout.indexOf("TYPE  "), "the summary comes before the resource table");
  t.true(widest(result.stdout) <= TERMINAL_WIDTH, `widest line ${widest(result.stdout)}`);
});
