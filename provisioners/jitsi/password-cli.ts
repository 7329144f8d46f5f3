// `npm run jitsi-password -- <member> [config.yaml]`: gives a staff member a Jitsi password
// (see handover.ts). It reaches the prosody container through the Docker engine that
// DOCKER_HOST names (the local one by default).
import Docker from "dockerode";
import { loadAssociation } from "../../stacks/config/load.ts";
import { desiredState } from "../desired.ts";
import { dockerProsody } from "./commands.ts";
import { handOverPassword, staffAccount } from "./handover.ts";

const USAGE = "usage: npm run jitsi-password -- <member id> [path/to/association.yaml]";

async function main(args: string[]): Promise<number> {
  const [member, configFile = "examples/association.yaml"] = args;
  if (!member || member.startsWith("-")) {
    console.error(USAGE);
    return 2;
  }
  // Shown once, to a person: never into a file, a pipe or a CI log.
  if (!process.stdout.isTTY) {
    console.error("jitsi-password shows the password on a terminal only; run it in one (not through a pipe or a redirection).");
    return 2;
  }
  const { domain, username } = staffAccount(desiredState(loadAssociation(configFile)), member);
  const password = await handOverPassword({ commands: dockerProsody({ docker: new Docker() }) }, domain, username);
  process.stdout.write(
    [
      `Jitsi password for ${member} (user name: ${username}):`,
      "",
      `    ${password}`,
      "",
      "Give it to them in person or over an encrypted chat; Bastide keeps no copy.",
      "Running this again replaces it.",
      "",
    ].join("\n"),
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
