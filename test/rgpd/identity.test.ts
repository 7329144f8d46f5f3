// What the DPO's documents say of the identity provider: its register entry (accounts,
// credentials, login events, sessions), the retention schedule's periods, and the security
// measures, with each relaxation of two-factor quoted with the reason the file gives.
import test from "ava";
import type { Association } from "../../stacks/config/schema.ts";
import * as identity from "../../stacks/services/identity/register.ts";
import { registerProblems, SERVICE_REGISTERS } from "../../policies/rgpd/register.ts";
import type { DataCategory } from "../../policies/rgpd/model.ts";
import { identityMeasures, securityMeasures } from "../../policies/reports/security.ts";
import { periodText } from "../../policies/reports/text.ts";
import { exampleAssociation } from "../support/association.ts";

const example = exampleAssociation();
const VOLUNTEERS_REASON = "Les bénévoles du jardin n'ont souvent pas de téléphone personnel.";
const relaxed = exampleAssociation((input) => {
  input.services.identity = { twoFactor: { volunteer: { required: false, relaxedBecause: VOLUNTEERS_REASON } } };
});
const disabled = exampleAssociation((input) => {
  input.services.identity = { enabled: false };
});

const categoryOf = (config: Association, id: string): DataCategory => {
  const found = identity.register(config).find((c) => c.id === id);
  if (!found) throw new Error(`no category ${id}`);
  return found;
};

test("the identity provider's register entry: accounts, credentials, login events, sessions, each sound", (t) => {
  t.is(SERVICE_REGISTERS.identity, identity, "the register assembles it like the other services'");
  const categories = identity.register(example);
  t.deepEqual(
    categories.map((c) => c.id),
    ["identity.accounts", "identity.credentials", "identity.login-events", "identity.sessions"],
  );
  t.deepEqual(registerProblems(categories), []);
  t.true(categories.every((c) => c.service === "identity" && c.dataSubjects.includes("members")));

  const accounts = categoryOf(example, "identity.accounts");
  for (const item of ["identifiant", "nom", "adresse e-mail", "langue", "rôle", "équipes"]) t.true(accounts.data.fr.includes(item), item);
  t.is(accounts.legalBasis.article, "b");
  t.regex(accounts.recipients.map((r) => r.en).join(" "), /Nextcloud and Matrix, at each login/);

  const credentials = categoryOf(example, "identity.credentials");
  t.regex(credentials.data.en, /password hash \(Argon2, never the password itself\)/);
  t.regex(credentials.data.en, /TOTP/);
  t.regex(credentials.data.en, /WebAuthn/);
  t.regex(credentials.retention.note!.en, /Second factor required of every role/);

  const events = categoryOf(example, "identity.login-events");
  t.regex(events.data.fr, /adresse IP complète/);
  t.is(events.legalBasis.article, "f");
  t.deepEqual(events.retention.period, { kind: "days", days: 180, from: { fr: "après l'événement", en: "after the event" } });
  t.regex(events.retention.note!.fr, /délibération n° 2021-122/);
  t.is(events.enforcedBy.mechanism, "Keycloak realm bastide: eventsEnabled=true, eventsExpiration=15552000 s, adminEventsEnabled=false");

  const sessions = categoryOf(example, "identity.sessions");
  t.deepEqual(sessions.retention.period, { kind: "lifespan", idleMinutes: 30, maxHours: 10 });
  t.is(sessions.enforcedBy.mechanism, "Keycloak realm bastide: ssoSessionIdleTimeout=1800 s, ssoSessionMaxLifespan=36000 s");
});

test("the account and its credentials live as long as the membership, then the departure grace period", (t) => {
  const longer = exampleAssociation((input) => {
    input.departures = { graceDays: 90 };
  });
  for (const id of ["identity.accounts", "identity.credentials"]) {
    t.like(categoryOf(example, id).retention, { period: { kind: "account", graceDays: 30 }, setting: "departures.graceDays", configurable: true });
    t.like(categoryOf(longer, id).retention, { period: { kind: "account", graceDays: 90 } });
  }
});

test("a role allowed to log in without a second factor is named in the register with the reason the file gives", (t) => {
  const note = categoryOf(relaxed, "identity.credentials").retention.note!;
  t.is(note.fr, `Second facteur facultatif pour : bénévoles (« ${VOLUNTEERS_REASON} »).`);
  t.is(note.en, `Second factor optional for: volunteers ("${VOLUNTEERS_REASON}").`);
  t.deepEqual(
    identity.twoFactorRoles(relaxed).map((r) => [r.role, r.required, r.reason]),
    [["admin", true, undefined], ["staff", true, undefined], ["volunteer", false, VOLUNTEERS_REASON]],
  );
});

test("the retention schedule words a session's lifespan in both languages", (t) => {
  const period = { kind: "lifespan", idleMinutes: 30, maxHours: 10 } as const;
  t.is(periodText(period, "fr"), "jusqu’à la déconnexion, 30\u00A0minutes sans activité, ou 10\u00A0heures après la connexion au plus tard");
  t.is(periodText(period, "en"), "until logout, 30 minutes without activity, or 10 hours after login at the latest");
});

const measure = (config: Association, id: string) => securityMeasures(config).find((m) => m.id === id);

test("security measures: one login, two-factor for every role, the password policy and what it cannot check", (t) => {
  const sso = measure(example, "single-sign-on")!;
  t.is(sso.status, "in-place");
  t.regex(sso.detail.fr, /https:\/\/connexion\.[^ ]+ \(Keycloak\), qui ouvre Nextcloud et Matrix ; la connexion par mot de passe propre à Nextcloud et à Matrix est fermée aux membres\./);
  t.regex(sso.detail.en, /that opens Nextcloud and Matrix; Nextcloud's and Matrix's own password login is closed to members\./);
  t.regex(sso.detail.en, /back-channel logout/);
  t.true(sso.detail.en.includes("Keycloak's admin console (/admin) and the realm its admin logs in to (/realms/master) are reachable through the VPN only."));
  t.true(sso.detail.en.includes("Jitsi keeps its own host accounts until its token login is wired to the identity provider"));

  const twoFactor = measure(example, "identity-two-factor")!;
  t.is(twoFactor.status, "in-place");
  t.regex(twoFactor.detail.en, /Every member, whatever their role, logs in with a second factor/);

  const passwords = measure(example, "passwords")!;
  t.regex(passwords.detail.en, /At least 12 characters, different from the user name and the e-mail address/);
  t.regex(passwords.detail.en, /cannot check that a password is on a list of breached passwords/);
  t.regex(passwords.detail.en, /After 10 failed logins, the account is locked for a while/);

  const stricter = exampleAssociation((input) => {
    input.services.identity = { passwords: { minimumLength: 16 }, lockoutAfterFailures: 5 };
  });
  t.regex(measure(stricter, "passwords")!.detail.fr, /Au moins 16 caractères.*Après 5 échecs de connexion/);
});

test("security measures: a relaxed role makes two-factor partial, quoting the reason and the setting", (t) => {
  const twoFactor = measure(relaxed, "identity-two-factor")!;
  t.is(twoFactor.status, "partial");
  t.regex(twoFactor.detail.fr, /exigé des administrateurs et des animateurs ; facultatif/);
  t.true(twoFactor.detail.fr.includes(`bénévoles, parce que « ${VOLUNTEERS_REASON} » (services.identity.twoFactor.volunteer.relaxedBecause)`));
  t.true(twoFactor.detail.en.includes(`volunteers, because "${VOLUNTEERS_REASON}"`));

  const both = exampleAssociation((input) => {
    input.services.identity = {
      twoFactor: {
        staff: { required: false, relaxedBecause: "Les animateurs partagent un poste commun à l'accueil." },
        volunteer: { required: false, relaxedBecause: VOLUNTEERS_REASON },
      },
    };
  });
  t.regex(measure(both, "identity-two-factor")!.detail.en, /required of admins; optional, by the association's choice, for: staff members, because .*; volunteers, because/);
});

test("security measures: the one login names only the services deployed, and Jitsi's own accounts only when Jitsi runs", (t) => {
  const fewer = exampleAssociation((input) => {
    input.services.jitsi = { enabled: false };
    input.services.matrix = { enabled: false };
  });
  const detail = measure(fewer, "single-sign-on")!.detail.en;
  t.regex(detail, /that opens Nextcloud; Nextcloud's own password login is closed to members\./);
  t.regex(detail, /by back-channel logout, in Nextcloud\./);
  t.false(detail.includes("Jitsi"));
  t.false(detail.includes("Matrix"));
});

test("security measures: with the identity provider off, the register says each service keeps its own password", (t) => {
  t.deepEqual(identityMeasures(disabled).map((m) => [m.id, m.status]), [["single-sign-on", "not-provided"]]);
  t.regex(measure(disabled, "single-sign-on")!.detail.en, /each service has its own password, and only Nextcloud's admins have a second factor/);
  t.is(measure(disabled, "identity-two-factor"), undefined);
  t.is(measure(disabled, "passwords"), undefined);
});
