// The policy pack: `pulumi preview --policy-pack policies/pack` refuses a stack that
// breaks one of Bastide's promises (EU hosting, TLS, closed registration, retention...).
// Every policy is mandatory. The checks themselves are in checks.ts.
import { PolicyPack } from "@pulumi/policy";
import { bastidePolicies, PACK_NAME } from "./policies.ts";

new PolicyPack(PACK_NAME, {
  policies: bastidePolicies,
  description: "Bastide's RGPD and security promises, refused when a stack breaks them.",
});
