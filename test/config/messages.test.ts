// Every refusal shows the value it refuses, next to the fix.
import test from "ava";
import { refusedAt, type Input } from "./support.ts";

const CASES: [string, (i: Input) => void, string, string, string][] = [
  ["role", (i) => (i.members[0].role = "owner"), "members[0].role", '"owner": ', "must be admin, staff or volunteer"],
  ["profile", (i) => (i.profile = "large"), "profile", '"large": ', "must be small"],
  ["language", (i) => (i.organisation.language = "de"), "organisation.language", '"de": ', "must be fr or en"],
  ["ACME CA", (i) => (i.services.proxy.acmeCa = "prod"), "services.proxy.acmeCa", '"prod": ', "must be production or staging"],
  ["video resolution", (i) => (i.services.jitsi = { lowBandwidth: { maxResolution: 1080 } }), "services.jitsi.lowBandwidth.maxResolution", "1080: ", "must be 180, 360 or 720"],
  ["retention days", (i) => (i.services.matrix.retention.messagesDays = 0), "services.matrix.retention.messagesDays", "0: ", "must be at least 7 days"],
  ["mail security", (i) => (i.mail = { host: "smtp.asso-exemple.fr", from: "a@asso-exemple.fr", security: "none" }), "mail.security", '"none": ', "never sent in clear"],
  ["mail relay", (i) => (i.mail = { host: "smtp://relay", from: "a@asso-exemple.fr" }), "mail.host", '"smtp://relay": ', "such as smtp.example.org"],
  ["member id", (i) => (i.members[1].id = "Karim Benali"), "members[1].id", '"Karim Benali" ', "starting with a letter"],
  ["quota", (i) => (i.members[2].quota = "lots"), "members[2].quota", '"lots" ', 'such as "5 GB"'],
];
for (const [what, edit, path, value, fix] of CASES) {
  test(`the refused ${what} is shown with the fix`, (t) => {
    refusedAt(t, edit, path, value, fix);
  });
}
