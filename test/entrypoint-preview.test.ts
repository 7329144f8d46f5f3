// `pulumi preview` starts with the plan in plain words, compared with the members the stack's
// last `pulumi up` deployed (its `roster` output); the run exports the roster the next
// preview compares with. A separate file because ES modules evaluate stacks/index.ts once
// per process.
import test from "ava";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { rosterOf } from "../stacks/summary.ts";
import { EXAMPLE_FILE, exampleAssociation } from "./support/association.ts";
import { registerUnderMocks } from "./support/program.ts";

test("the preview logs the summary with who arrives since the last pulumi up, and exports the new roster", async (t) => {
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(EXAMPLE_FILE));
  // The last run had every member but Léa, and Tom in the bureau team only.
  const deployed = rosterOf(exampleAssociation()).filter((m) => m.id !== "lea.moreau").map((m) => (m.id === "tom.martin" ? { ...m, teams: ["bureau"] } : m));
  const logged: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void logged.push(args.join(" "));
  let program: Record<string, any> | undefined;
  let outcome!: Promise<unknown>;
  try {
    await registerUnderMocks(
      () => {
        outcome = import("../stacks/index.ts").then(
          (exports) => void (program = exports),
          (error: unknown) => error,
        );
      },
      { lastOutputs: { roster: deployed } },
    );
    t.is(await outcome, undefined);
  } finally {
    console.log = original;
  }
  const summary = logged.find((line) => line.includes("Résumé pour Les Jardins Partagés du Canal"));
  t.truthy(summary, "the summary is logged during the preview");
  t.true(summary!.includes("Changements depuis le dernier pulumi up :"));
  t.true(summary!.includes("Arrivées (1) : Léa Moreau (lea.moreau)"));
  t.true(summary!.includes("Départs : aucun"));
  t.regex(summary!, /Tom Martin \(tom\.martin\) : \+ Équipe potager, \+ Événements, - Bureau/);
  t.deepEqual(program!.roster, rosterOf(exampleAssociation()), "the roster the next preview compares with");
});
