// The identity provider's audit rules without a server: how a browser flow's steps are read,
// Keycloak's password policy string, and what the config declares. The same rules run against
// the real Keycloak in identity-live.test.ts.
import test from "ava";
import { declaredIdentity, ENROLMENT_DAYS } from "../../policies/audit/declared.ts";
import { flowSecondFactor } from "../../policies/audit/identity.ts";
import type { FlowStep } from "../../policies/audit/observed.ts";
import { passwordPolicies } from "../../policies/audit/rules.ts";
import { exampleAssociation } from "../support/association.ts";

const step = (level: number, requirement: string, providerId: string | null, name = providerId ?? "sub-flow"): FlowStep => ({ level, requirement, providerId, subflow: providerId === null, name });

/** Keycloak's browser flow shape: cookie, then forms (password, then a conditional sub-flow with the OTP form). */
const browser = (subflow: string, conditions: string[], otp = "ALTERNATIVE"): FlowStep[] => [
  step(0, "ALTERNATIVE", "auth-cookie"),
  step(0, "ALTERNATIVE", null, "forms"),
  step(1, "REQUIRED", "auth-username-password-form"),
  step(1, subflow, null, "2FA"),
  ...conditions.map((c) => step(2, "REQUIRED", c)),
  step(2, otp, "auth-otp-form"),
  step(2, "DISABLED", "webauthn-authenticator"),
];

test("a second factor under a role or attribute condition is asked by the flow; under 'user configured' only of those who set one", (t) => {
  t.deepEqual(flowSecondFactor(browser("CONDITIONAL", ["conditional-user-attribute"])), { kind: "by-condition", conditions: ["conditional-user-attribute"] });
  t.deepEqual(flowSecondFactor(browser("CONDITIONAL", ["conditional-user-configured", "conditional-credential"])), {
    kind: "if-configured",
    conditions: ["conditional-credential", "conditional-user-configured"],
  });
  t.deepEqual(flowSecondFactor(browser("REQUIRED", ["conditional-user-configured"])), { kind: "always", conditions: [] });
  t.deepEqual(flowSecondFactor(browser("DISABLED", [])), { kind: "never", conditions: [] });
  t.deepEqual(flowSecondFactor(browser("REQUIRED", [], "DISABLED")), { kind: "never", conditions: [] });
  t.deepEqual(flowSecondFactor([]), { kind: "never", conditions: [] });
});

test("Keycloak's password policy string is read policy by policy", (t) => {
  const policies = passwordPolicies("length(12) and notUsername(undefined) and notEmail(undefined) and passwordHistory(3)");
  t.deepEqual([...policies], [["length", "12"], ["notUsername", "undefined"], ["notEmail", "undefined"], ["passwordHistory", "3"]]);
  t.deepEqual([...passwordPolicies(null)], []);
});

test("the declared identity state follows the file and the register's periods", (t) => {
  const config = exampleAssociation((input) => {
    input.services.identity = { lockoutAfterFailures: 5, passwords: { minimumLength: 14 }, twoFactor: { staff: { required: false, relaxedBecause: "Les animateurs partagent le poste de l'accueil." } } };
  });
  const declared = declaredIdentity(config);
  t.like(declared, { realm: "bastide", enrolmentDays: ENROLMENT_DAYS, lockoutAfterFailures: 5, minimumPasswordLength: 14, loginEventsSeconds: 180 * 86_400, ssoSessionIdleSeconds: 1_800, ssoSessionMaxSeconds: 36_000 });
  t.deepEqual(declared.twoFactor, [
    { role: "admin", required: true },
    { role: "staff", required: false, reason: "Les animateurs partagent le poste de l'accueil." },
    { role: "volunteer", required: true },
  ]);
  t.deepEqual(declared.members.map((m) => m.username), config.members.map((m) => m.id.toLowerCase()).sort());
});
