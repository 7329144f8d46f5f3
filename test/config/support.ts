// Shared by the config tests: edit the example, validate it, and find the one problem
// expected at a field, with the value shown and the fix said.
import type { ExecutionContext } from "ava";
import { ConfigError, validateAssociation, type ConfigProblem } from "../../stacks/config/load.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleInput } from "../support/association.ts";

export type Input = Record<string, any>;

export const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly admin@laptop";

export const hetznerHost = (edit: Input = {}) => ({
  target: "hetzner",
  location: "fsn1",
  serverType: "cx42",
  sshPublicKey: SSH_KEY,
  adminAddresses: ["203.0.113.7/32"],
  ...edit,
});

export const sshHost = (edit: Input = {}) => ({ target: "ssh", address: "203.0.113.7", country: "FR", size: { cpus: 4, memoryGb: 12 }, ...edit });

export function problemsOf(edit: (input: Input) => void): ConfigProblem[] {
  const input = exampleInput();
  edit(input);
  try {
    validateAssociation(input, "test.yaml");
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

export function validated(edit: (input: Input) => void): Association {
  const input = exampleInput();
  edit(input);
  return validateAssociation(input, "test.yaml");
}

/** The config is refused with one problem at `path` whose message contains every part of `says`. */
export function refusedAt(t: ExecutionContext, edit: (input: Input) => void, path: string, ...says: string[]): ConfigProblem | undefined {
  const problems = problemsOf(edit);
  const matching = problems.filter((p) => p.path === path && says.every((s) => p.message.includes(s)));
  t.is(matching.length, 1, `one problem at ${path} saying ${JSON.stringify(says)}; got ${JSON.stringify(problems)}`);
  return matching[0];
}
