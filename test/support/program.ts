// Tests run the program through the same offline harness as `npm run plan`.
import * as pulumi from "@pulumi/pulumi";
import { registerUnderMocks, type MockOptions, type Registered } from "../../stacks/offline/mocks.ts";

export * from "../../stacks/offline/mocks.ts";

/**
 * The Pulumi program, stacks/index.ts, run under mocks: the error it stopped with (undefined when
 * it ran to its end) and every resource it registered. Once per process: ES modules evaluate it once.
 */
export async function runProgramUnderMocks(options: MockOptions = {}): Promise<{ error: unknown; registered: Registered[] }> {
  let outcome!: Promise<unknown>;
  const registered = await registerUnderMocks(() => {
    outcome = import("../../stacks/index.ts").then(
      () => undefined,
      (error: unknown) => error,
    );
  }, options);
  const error = await outcome;
  // The import resolves after registerUnderMocks returns: wait for its registrations (at least ten turns,
  // so that "nothing registered" means something), a bounded number of times.
  for (let round = 0, seen = -1; round < 50 && (round < 10 || seen !== registered.length); round++) {
    seen = registered.length;
    await pulumi.runtime.awaitStackRegistrations();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { error, registered };
}
