// The browser flow Bastide binds in its realm: Keycloak's own "browser" flow at 26.7.3
// asks for a second factor only from users who already have one ("Browser - Conditional
// 2FA": Condition - user configured), so a member who deletes their OTP from the account
// console logs in with the password alone. This flow reads the member's role instead:
//
//   Cookie                                                  ALTERNATIVE
//   bastide forms                                           ALTERNATIVE
//     Username Password Form                                REQUIRED
//     bastide second factor required                        CONDITIONAL
//       Condition - user attribute (bastide_role ∈ roles)   REQUIRED
//       OTP Form                                            REQUIRED
//     bastide second factor if configured                   CONDITIONAL
//       Condition - user attribute (bastide_role ∉ roles)   REQUIRED
//       Condition - user configured                         REQUIRED
//       OTP Form                                            REQUIRED
//
// A REQUIRED OTP Form the member has not set up makes Keycloak add CONFIGURE_TOTP to the
// login and run it before the login ends (DefaultAuthenticationFlow: an authenticator not
// configured for the user whose factory allows user set-up gets its required actions set),
// so a required member cannot end a login without a code, whatever they deleted.
// The condition's options (attribute_name, attribute_expected_value, regex, not) are those
// the 26.7.3 server describes (GET .../authentication/config-description/conditional-user-attribute).
import type { Member } from "../../stacks/config/schema.ts";
import { BROWSER_FLOW, ROLE_ATTRIBUTE } from "./desired.ts";
import type { FlowStep } from "./model.ts";

export const FORMS_FLOW = "bastide forms";
export const REQUIRED_FLOW = "bastide second factor required";
export const IF_CONFIGURED_FLOW = "bastide second factor if configured";

/** The condition's config: the member's role is one of `roles` (or, negated, is not). */
export function roleCondition(roles: readonly Member["role"][], negated: boolean): Record<string, string> {
  return { attribute_name: ROLE_ATTRIBUTE, attribute_expected_value: `^(${roles.join("|")})$`, regex: "true", not: String(negated) };
}

export function browserFlowSteps(twoFactorRoles: readonly Member["role"][]): FlowStep[] {
  return [
    { level: 0, step: "auth-cookie", requirement: "ALTERNATIVE" },
    { level: 0, step: `flow:${FORMS_FLOW}`, requirement: "ALTERNATIVE" },
    { level: 1, step: "auth-username-password-form", requirement: "REQUIRED" },
    { level: 1, step: `flow:${REQUIRED_FLOW}`, requirement: "CONDITIONAL" },
    { level: 2, step: "conditional-user-attribute", requirement: "REQUIRED", config: roleCondition(twoFactorRoles, false) },
    { level: 2, step: "auth-otp-form", requirement: "REQUIRED" },
    { level: 1, step: `flow:${IF_CONFIGURED_FLOW}`, requirement: "CONDITIONAL" },
    { level: 2, step: "conditional-user-attribute", requirement: "REQUIRED", config: roleCondition(twoFactorRoles, true) },
    { level: 2, step: "conditional-user-configured", requirement: "REQUIRED" },
    { level: 2, step: "auth-otp-form", requirement: "REQUIRED" },
  ];
}

export { BROWSER_FLOW };
