// The example association, and variants of it for tests.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { validateAssociation } from "../../stacks/config/load.ts";
import type { Association } from "../../stacks/config/schema.ts";

export const EXAMPLE_FILE = new URL("../../examples/association.yaml", import.meta.url);

/** The example file as the admin wrote it, before defaults: mutate freely. */
export function exampleInput(): Record<string, any> {
  return parse(readFileSync(EXAMPLE_FILE, "utf8"));
}

/** The validated example, optionally changed first by `edit`. */
export function exampleAssociation(edit: (input: Record<string, any>) => void = () => {}): Association {
  const input = exampleInput();
  edit(input);
  return validateAssociation(input, "test config");
}
