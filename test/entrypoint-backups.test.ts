// The program with `backups:` in the file: the stack output the emergency sheet reads
// (layout.BACKUP_STACK_OUTPUT), its password a secret. A separate file because ES modules
// evaluate stacks/index.ts once per process.
import test from "ava";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_STACK_OUTPUT } from "../stacks/backups/layout.ts";
import { EXAMPLE_FILE } from "./support/association.ts";
import { registerUnderMocks } from "./support/program.ts";
import { loadAssociation } from "../stacks/config/load.ts";
import { checkBackupOutput } from "../policies/custody/output.ts";

const BACKUPS = `
backups:
  destination:
    type: sftp
    host: u123456.your-storagebox.de
    user: u123456
    path: /backups/bastide
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz
    country: DE
`;

test("the stack outputs where the backups are, the repository password as a secret, and the key for the SFTP server", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), "bastide-backups-config-")), "association.yaml");
  writeFileSync(file, `${readFileSync(EXAMPLE_FILE, "utf8")}${BACKUPS}`);
  pulumi.runtime.setConfig("bastide:config", file);
  let program: Record<string, any> | undefined;
  let outcome!: Promise<unknown>;
  await registerUnderMocks(() => {
    outcome = import("../stacks/index.ts").then(
      (exports) => void (program = exports),
      (error: unknown) => error,
    );
  });
  t.is(await outcome, undefined);
  const output = program![BACKUP_STACK_OUTPUT];
  t.is(output.repository, "sftp://u123456@u123456.your-storagebox.de:22//backups/bastide");
  t.is(output.country, "DE");
  t.true(await pulumi.isSecret(output.repositoryPassword));
  t.true(await pulumi.isSecret(output.sshPrivateKey), "the restore's key to the SFTP server");
  t.false(await pulumi.isSecret(output.sshPublicKey));
  t.deepEqual(Object.keys(output).sort(), ["country", "repository", "repositoryPassword", "sshPrivateKey", "sshPublicKey"]);
  // What `pulumi stack output --show-secrets --json backups` gives the emergency sheet, checked by its own reader.
  const shown = Object.fromEntries(await Promise.all(Object.entries(output).map(async ([key, value]) => [key, await valueOf(value)])));
  const config = loadAssociation(file);
  t.notThrows(() => checkBackupOutput(config, shown));
  t.regex(shown.repositoryPassword, /^<secret:backups-repository-password>$/);
  t.regex(shown.sshPrivateKey, /^<secret:backups-ssh-key>$/);
});

const valueOf = (value: unknown) => (pulumi.Output.isInstance(value) ? new Promise((resolve) => value.apply(resolve)) : value);
