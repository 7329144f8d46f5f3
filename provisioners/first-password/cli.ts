// `npm run first-password -- <member id> [path/to/association.yaml] [--only nextcloud,matrix,jitsi] [--stack <name>]`
//
// Sets a fresh temporary password in each of the member's services (see passwords.ts) and
// shows them once, on this terminal only: it refuses to write them to a pipe or a file,
// like jitsi-password. The credentials it acts with come from the environment or from
// `pulumi stack output` (credentials.ts). `--only` replaces just the passwords named, e.g.
// when a member forgot one and has already changed the others.
import { parseArgs } from "node:util";
import { loadAssociation } from "../../stacks/config/load.ts";
import { desiredState } from "../desired.ts";
import { openClients } from "./connect.ts";
import { loadCredentials, pulumiStackOutput } from "./credentials.ts";
import { checkAccounts, formatPasswords, memberAccounts, PASSWORD_SERVICES, setFirstPasswords, type PasswordService } from "./passwords.ts";

const USAGE = `usage: npm run first-password -- <member id> [path/to/association.yaml] [--only ${PASSWORD_SERVICES.join(",")}] [--stack <name>]`;

class UsageError extends Error {}

function servicesOf(only: string | undefined): PasswordService[] | undefined {
  if (only === undefined) return undefined;
  const names = only.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PASSWORD_SERVICES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) throw new UsageError(`--only takes ${PASSWORD_SERVICES.join(", ")} (comma-separated)${unknown.length ? `, not ${unknown.join(", ")}` : ""}`);
  return names as PasswordService[];
}

async function main(argv: string[]): Promise<number> {
  let member: string | undefined;
  let configFile: string;
  let only: PasswordService[] | undefined;
  let stack: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { only: { type: "string" }, stack: { type: "string" } } });
    [member, configFile = "examples/association.yaml"] = positionals;
    if (!member || positionals.length > 2) throw new UsageError("");
    only = servicesOf(values.only);
    stack = values.stack;
  } catch (error) {
    const reason = error instanceof UsageError ? error.message : (error as Error).message;
    console.error([reason, USAGE].filter(Boolean).join("\n"));
    return 2;
  }
  // Shown once, to a person: never into a file, a pipe or a CI log. Checked before anything changes.
  if (!process.stdout.isTTY) {
    console.error("first-password shows the passwords on a terminal only; run it in one (not through a pipe or a redirection). Nothing was changed.");
    return 2;
  }

  const config = loadAssociation(configFile);
  const accounts = memberAccounts(config, desiredState(config), member, only);
  const credentials = loadCredentials(
    { nextcloud: accounts.nextcloud !== undefined, matrix: accounts.matrix !== undefined },
    { env: process.env, stackOutput: () => pulumiStackOutput({ cwd: process.cwd(), ...(stack ? { stack } : {}) }) },
  );
  const clients = await openClients(config, accounts, credentials, { env: process.env });
  try {
    await checkAccounts(accounts, clients);
    const result = await setFirstPasswords(accounts, clients);
    process.stdout.write(formatPasswords(accounts, result));
    return result.failed.length > 0 ? 1 : 0;
  } finally {
    // Ends this tool's own session (its device); the provisioner's session is left as it is.
    await clients.matrix?.close().catch(() => {});
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
