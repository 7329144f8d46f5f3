// The checks as Pulumi policies: each wrapper turns the SDK's arguments into the plain
// resources checks.ts reads, and reports each message it returns. Kept apart from
// index.ts, whose PolicyPack starts the analyzer server, so that tests can call them.
import type {
  EnforcementLevel,
  Policies,
  PolicyResource as SdkResource,
  ReportViolation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";
import { CHECKS, UNKNOWN, type PolicyCheck, type PolicyResource } from "./checks.ts";
import { declaredFacts } from "./facts.ts";

export const PACK_NAME = "bastide-rgpd";
export const ENFORCEMENT: EnforcementLevel = "mandatory";

/** The SDK's error for a value `pulumi preview` cannot know; matched by name, its class is internal. */
const isUnknownValueError = (error: unknown) => error instanceof Error && error.constructor.name === "UnknownValueError";

/**
 * A plain copy of the SDK's props. The SDK throws when a check reads a value unknown during
 * preview, which would abandon the whole policy for that resource; the copy holds UNKNOWN
 * there instead, so the checks judge everything else and skip only that value.
 */
export function plain(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const key of Object.keys(source)) {
    let field: unknown;
    try {
      field = source[key];
    } catch (error) {
      if (!isUnknownValueError(error)) throw error;
      field = UNKNOWN;
    }
    (copy as Record<string, unknown>)[key] = plain(field);
  }
  return copy;
}

type SdkShape = Pick<ResourceValidationArgs | SdkResource, "type" | "name" | "props" | "opts">;

export function toPolicyResource(args: SdkShape): PolicyResource {
  return { type: args.type, name: args.name, props: plain(args.props) as Record<string, unknown>, protect: args.opts?.protect };
}

function asPolicy(check: PolicyCheck): Policies[number] {
  const common = { name: check.name, description: check.description, enforcementLevel: ENFORCEMENT };
  if (check.kind === "resource") {
    return {
      ...common,
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        for (const message of check.check(toPolicyResource(args))) report(message);
      },
    };
  }
  return {
    ...common,
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      const resources = args.resources.map(toPolicyResource);
      for (const message of check.check(resources, declaredFacts(resources))) report(message);
    },
  };
}

export const bastidePolicies: Policies = CHECKS.map(asPolicy);
