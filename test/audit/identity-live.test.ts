// The live audit of the identity provider against a REAL Keycloak (the pinned release, test/support/
// keycloak.ts). Its realm is set up here with Keycloak's own admin client, as the contract of issue 10
// says the identity provisioner leaves it (realm bastide, user name = member id, attribute
// bastide_role); the audit then reads it back through the admin REST API. Configured as declared,
// every identity rule passes; each setting changed behind Bastide's back fails exactly its rule.
//
// It also records what the register quotes from the real server: a new realm's session lifespans
// (Keycloak's defaults) and what a login event holds.
import test from "ava";
import KcAdminClient from "@keycloak/keycloak-admin-client";
import { declaredIdentity, declaredState, type Declared } from "../../policies/audit/declared.ts";
import { readObserved } from "../../policies/audit/audit.ts";
import { flowSecondFactor, readIdentityRealm, type IdentityAuditConnection } from "../../policies/audit/identity.ts";
import { evaluate, type RuleCheck } from "../../policies/audit/rules.ts";
import type { Observed } from "../../policies/audit/observed.ts";
import { IDENTITY_RETENTION } from "../../stacks/services/identity/register.ts";
import { exampleAssociation } from "../support/association.ts";
import { startKeycloak, type RealKeycloak } from "../support/keycloak.ts";

const config = exampleAssociation();
const REALM = "bastide";
/** The flow the right set-up uses: a copy of Keycloak's browser flow whose second-factor step is required. */
const STRICT_FLOW = "bastide browser";
/** A TOTP credential as a realm import carries it (the secret is a test value, not a real member's). */
const otpCredential = {
  type: "otp",
  userLabel: "test authenticator",
  secretData: JSON.stringify({ value: "JBSWY3DPEHPK3PXPJBSWY3DP" }),
  credentialData: JSON.stringify({ subType: "totp", digits: 6, counter: 0, period: 30, algorithm: "HmacSHA1" }),
};

let keycloak: RealKeycloak | undefined;
let admin: KcAdminClient;
let connection: IdentityAuditConnection;

/** The declared state with the identity provider, whatever the catalogue holds yet. */
const declared = (): Declared => ({ ...declaredState(config), identity: declaredIdentity(config) });

async function auditIdentity(shiftDays = 0): Promise<RuleCheck[]> {
  const { observed } = await readObserved(declared(), { docker: { unavailable: "not under test" }, identity: connection });
  const read = observed.identityRealm!;
  const later: Observed = { ...observed, identityRealm: { ...read, readAt: new Date(Date.parse(read.readAt) + shiftDays * 86_400_000).toISOString() } };
  return identityRules(evaluate(declared(), later));
}

/** The rules that read the realm: the identity service's containers (keycloak, db) are not under test here (no Docker). */
const identityRules = (checks: RuleCheck[]) => checks.filter((c) => c.rule.startsWith("identity."));

const failing = (checks: RuleCheck[]) => checks.filter((c) => c.status !== "pass").map((c) => `${c.rule}${c.subject?.startsWith("role") ? ` (${c.subject})` : ""}`);

async function userId(username: string): Promise<string> {
  const [user] = await admin.users.find({ realm: REALM, username, exact: true });
  if (!user?.id) throw new Error(`no user ${username}`);
  return user.id;
}

test.before(async (t) => {
  t.timeout(420_000);
  keycloak = await startKeycloak();
  admin = new KcAdminClient({ baseUrl: keycloak.url, realmName: "master" });
  await admin.auth({ grantType: "password", clientId: "admin-cli", username: keycloak.admin.username, password: keycloak.admin.password });
  connection = { baseUrl: keycloak.url, admin: keycloak.admin };

  const identity = config.services.identity;
  // Session lifespans are left to Keycloak's defaults: the register quotes them.
  await admin.realms.create({
    realm: REALM,
    enabled: true,
    registrationAllowed: false,
    bruteForceProtected: true,
    failureFactor: identity.lockoutAfterFailures,
    eventsEnabled: true,
    eventsExpiration: IDENTITY_RETENTION.loginEventsDays * 86_400,
    passwordPolicy: `length(${identity.passwords.minimumLength}) and notUsername(undefined) and notEmail(undefined) and passwordHistory(3)`,
  });
  admin.setConfig({ realmName: REALM });
  await admin.authenticationManagement.copyFlow({ flow: "browser", newName: STRICT_FLOW });
  const steps = await admin.authenticationManagement.getExecutions({ flow: STRICT_FLOW });
  // Keycloak's "Browser - Conditional 2FA", made REQUIRED: its conditions no longer apply.
  const conditionalOtp = steps.find((s) => s.authenticationFlow && s.requirement === "CONDITIONAL" && s.level === 1 && s.displayName?.includes("2FA"));
  if (!conditionalOtp) throw new Error(`no conditional second-factor sub-flow in ${JSON.stringify(steps)}`);
  await admin.authenticationManagement.updateExecution({ flow: STRICT_FLOW }, { ...conditionalOtp, requirement: "REQUIRED" });
  await admin.realms.update({ realm: REALM }, { browserFlow: STRICT_FLOW });

  // Every member as the provisioner makes them: admins and volunteers enrolled, staff still enrolling.
  for (const member of config.members) {
    const enrolled = member.role !== "staff";
    await admin.users.create({
      realm: REALM,
      username: member.id,
      email: member.email,
      emailVerified: true,
      enabled: true,
      firstName: member.name,
      attributes: { bastide_role: [member.role], locale: [member.language ?? config.organisation.language] },
      requiredActions: enrolled ? [] : ["CONFIGURE_TOTP", "UPDATE_PASSWORD"],
      credentials: enrolled ? [otpCredential] : [],
    });
  }
});

// A fresh admin token for each test, from the master realm: the admin client refreshes an expired
// token at the realm it is set to, which is the association's once the set-up is done.
test.beforeEach(async () => {
  admin.setConfig({ realmName: "master" });
  await admin.auth({ grantType: "password", clientId: "admin-cli", username: keycloak!.admin.username, password: keycloak!.admin.password });
  admin.setConfig({ realmName: REALM });
});

test.after.always(async () => {
  await keycloak?.stop();
});

test.serial("the realm as the provisioner leaves it passes every identity rule", async (t) => {
  const checks = await auditIdentity();
  t.deepEqual(failing(checks), [], JSON.stringify(checks.filter((c) => c.status !== "pass"), null, 1));
  t.deepEqual(
    [...new Set(checks.map((c) => c.rule))],
    ["identity.registration", "identity.brute-force", "identity.password-policy", "identity.login-events", "identity.sessions", "identity.two-factor-flow", "identity.two-factor", "identity.accounts"],
  );
  const staff = checks.find((c) => c.rule === "identity.two-factor" && c.subject === "role staff")!;
  t.regex(staff.observed, /0 of 1 enabled accounts have a second factor; enrolling: karim\.benali/);
  t.regex(checks.find((c) => c.rule === "identity.two-factor-flow")!.observed, /browser flow bastide browser: second factor always asked/);
});

test.serial("the register's session lifespans are Keycloak's own defaults for a new realm", async (t) => {
  const facts = await readIdentityRealm(connection);
  t.is(facts.realm.ssoSessionIdleTimeout, IDENTITY_RETENTION.ssoSessionIdleMinutes * 60);
  t.is(facts.realm.ssoSessionMaxLifespan, IDENTITY_RETENTION.ssoSessionMaxHours * 3_600);
  // What the register says a second factor is: the credential kinds, never their values.
  const claire = facts.users.find((u) => u.username === "claire.dubois")!;
  t.deepEqual(claire.credentials, ["otp"]);
  t.false(JSON.stringify(facts).includes("JBSWY3DPEHPK3PXP"), "no secret is read back");
});

test.serial("a login event holds what the register says: type, time, service, account, full IP address, the name typed; no user agent", async (t) => {
  const agent = "Bastide-Audit-Test/1.0 (register check)";
  const answer = await fetch(`${keycloak!.url}/realms/${REALM}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "user-agent": agent },
    body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: "claire.dubois", password: "not her password" }),
  });
  t.is(answer.status, 400);
  const events = await admin.realms.findEvents({ realm: REALM, type: "LOGIN_ERROR" });
  const event = events.find((e) => e.details?.username === "claire.dubois");
  t.truthy(event, JSON.stringify(events));
  t.like(event, { type: "LOGIN_ERROR", clientId: "admin-cli", ipAddress: "127.0.0.1", error: "invalid_user_credentials", userId: await userId("claire.dubois") });
  t.true(typeof event!.time === "number");
  t.false(JSON.stringify(events).includes("Bastide-Audit-Test"), "Keycloak keeps no user agent in its events");
  const register = (await import("../../stacks/services/identity/register.ts")).register(config).find((c) => c.id === "identity.login-events")!;
  t.regex(register.data.en, /full IP address.*the user name typed for a failed login.*no browser or device \(user agent\)/);
});

test.serial("Keycloak's default browser flow asks the second factor only of members who configured one: the audit says so", async (t) => {
  const steps = await admin.authenticationManagement.getExecutions({ flow: "browser" });
  const found = flowSecondFactor(steps.map((s) => ({ level: s.level ?? 0, requirement: s.requirement ?? "", providerId: s.providerId ?? null, subflow: Boolean(s.authenticationFlow), name: s.displayName ?? "" })));
  t.deepEqual(found, { kind: "if-configured", conditions: ["conditional-credential", "conditional-user-configured"] });

  await admin.realms.update({ realm: REALM }, { browserFlow: "browser" });
  try {
    const checks = await auditIdentity();
    t.deepEqual(failing(checks), ["identity.two-factor-flow"]);
    t.regex(checks.find((c) => c.rule === "identity.two-factor-flow")!.observed, /only of members who configured one/);
  } finally {
    await admin.realms.update({ realm: REALM }, { browserFlow: STRICT_FLOW });
  }
});

test.serial("realm settings changed behind Bastide's back fail exactly their rules", async (t) => {
  const before = await admin.realms.findOne({ realm: REALM });
  await admin.realms.update(
    { realm: REALM },
    { registrationAllowed: true, bruteForceProtected: false, eventsExpiration: 365 * 86_400, passwordPolicy: "length(8)", ssoSessionMaxLifespan: 30 * 86_400 },
  );
  try {
    const checks = await auditIdentity();
    t.deepEqual(failing(checks), ["identity.registration", "identity.brute-force", "identity.password-policy", "identity.login-events", "identity.sessions"]);
    t.is(checks.find((c) => c.rule === "identity.login-events")!.observed, "eventsEnabled=true, eventsExpiration=31536000 s");
    t.is(checks.find((c) => c.rule === "identity.password-policy")!.observed, "length(8)");
  } finally {
    await admin.realms.update({ realm: REALM }, before!);
  }
  t.deepEqual(failing(await auditIdentity()), [], "restored");
});

test.serial("a member without a second factor and none asked, an account not in the list, and enrolment left too long are reported", async (t) => {
  const lea = await userId("lea.moreau");
  const [otp] = (await admin.users.getCredentials({ id: lea })).filter((c) => c.type === "otp");
  await admin.users.deleteCredential({ id: lea, credentialId: otp!.id! });
  const intruder = await admin.users.create({ realm: REALM, username: "intrus", enabled: true });
  try {
    const checks = await auditIdentity();
    t.deepEqual(failing(checks), ["identity.two-factor (role volunteer)", "identity.accounts"]);
    t.regex(checks.find((c) => c.subject === "role volunteer")!.observed, /no second factor and none asked: lea\.moreau/);
    t.regex(checks.find((c) => c.rule === "identity.accounts")!.observed, /enabled but not in the member list: intrus/);
  } finally {
    await admin.users.del({ id: intruder.id });
    await admin.users.update({ id: lea }, { requiredActions: ["CONFIGURE_TOTP"] });
  }
  // Asked to enrol: fine today, reported once the enrolment period is over.
  t.deepEqual(failing(await auditIdentity()), []);
  const late = await auditIdentity(15);
  t.deepEqual(failing(late), ["identity.two-factor (role staff)", "identity.two-factor (role volunteer)"]);
  t.regex(late.find((c) => c.subject === "role volunteer")!.observed, /not enrolled after 14 days: lea\.moreau/);
});

test.serial("a role allowed to skip the second factor is not reported, and the reason is quoted", async (t) => {
  const relaxed = exampleAssociation((input) => {
    input.services.identity = { twoFactor: { volunteer: { required: false, relaxedBecause: "Les bénévoles du jardin n'ont souvent pas de téléphone." } } };
  });
  const lea = await userId("lea.moreau");
  await admin.users.update({ id: lea }, { requiredActions: [] });
  const declaredRelaxed = { ...declaredState(relaxed), identity: declaredIdentity(relaxed) };
  const { observed } = await readObserved(declaredRelaxed, { docker: { unavailable: "not under test" }, identity: connection });
  const checks = identityRules(evaluate(declaredRelaxed, observed));
  t.deepEqual(failing(checks), []);
  const volunteers = checks.find((c) => c.subject === "role volunteer")!;
  t.regex(volunteers.declared, /optional \(services\.identity\.twoFactor\.volunteer\.relaxedBecause: Les bénévoles du jardin/);
  t.is(volunteers.observed, "1 of 2 enabled accounts have a second factor");
  // The same realm judged against the default file fails for that member.
  t.deepEqual(failing(await auditIdentity()), ["identity.two-factor (role volunteer)"]);
});

test.serial("the audit ends its own admin session only: another session of the same admin (a provisioning run) goes on", async (t) => {
  const tokens = async (body: Record<string, string>) =>
    (await fetch(`${keycloak!.url}/realms/master/protocol/openid-connect/token`, { method: "POST", body: new URLSearchParams({ client_id: "admin-cli", ...body }) })).json() as Promise<{ refresh_token?: string; error?: string }>;
  const other = await tokens({ grant_type: "password", username: keycloak!.admin.username, password: keycloak!.admin.password });
  await auditIdentity();
  const refreshed = await tokens({ grant_type: "refresh_token", refresh_token: other.refresh_token! });
  t.is(refreshed.error, undefined, JSON.stringify(refreshed));
  t.truthy(refreshed.refresh_token);
});

test.serial("a wrong admin password or an unknown realm makes the identity checks unread, not passed", async (t) => {
  const { observed, unreachable } = await readObserved(declared(), { docker: { unavailable: "not under test" }, identity: { ...connection, admin: { username: "admin", password: "not-the-password" } } });
  const checks = identityRules(evaluate(declared(), observed));
  t.true(checks.every((c) => c.status === "unread"));
  // Keycloak 26.7.3 answers a wrong password with 400 invalid_grant, not 401.
  t.regex(unreachable.find((u) => u.service === "identity")!.error, /logging in as Keycloak's admin admin: HTTP 400/);
});
