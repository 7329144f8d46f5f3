// Issue 11: backups to S3-compatible object storage, through a real S3 server (Versity Gateway,
// test/support/s3.ts) over HTTPS, with Debian's restic and the very argv Bastide's job runs
// (stacks/backups/restic.ts) for a destination parsed from an association file's `backups:`.
// What reaches the bucket is encrypted: no object holds a byte of the data in clear.
import test from "ava";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resticCommands, type ResticCommand } from "../../stacks/backups/restic.ts";
import { backupSettings } from "../../stacks/backups/settings.ts";
import { requireProgram, run } from "../support/programs.ts";
import { startS3Server, type S3Server } from "../support/s3.ts";

requireProgram("restic", "restic");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function restic(command: ResticCommand, env: Record<string, string>) {
  const [program, ...args] = command.argv;
  return run(program!, args, { env, timeoutMs: 120_000 });
}

test("backups to S3: restic through a real S3 server over HTTPS; the bucket holds only ciphertext, the restore is identical", async (t) => {
  const s3: S3Server = await startS3Server();
  const work = mkdtempSync(join(tmpdir(), "bastide-s3-backup-"));
  try {
    const settings = backupSettings.parse({ destination: { type: "s3", endpoint: s3.endpoint, bucket: "asso-exemple-backups", prefix: "bastide/daily", country: "FR" } });
    s3.createBucket("asso-exemple-backups");
    const passwordFile = join(work, "repository-password");
    writeFileSync(passwordFile, randomBytes(32).toString("base64url"), { mode: 0o400 });
    const commands = resticCommands(settings, { passwordFile });

    // Data with a marker that would be visible in any object stored in clear.
    const marker = `bastide-clear-text-marker-${randomBytes(8).toString("hex")}`;
    const data = join(work, "data");
    mkdirSync(join(data, "nested"), { recursive: true });
    writeFileSync(join(data, "members.csv"), `${marker}\nalice,bob\n`);
    writeFileSync(join(data, "nested", "photo.bin"), randomBytes(3 * 1024 * 1024));

    const init = restic(commands.init, s3.env);
    t.is(init.status, 0, init.stderr);
    const backup = restic(commands.backup([data]), s3.env);
    t.is(backup.status, 0, backup.stderr);
    const snapshots = JSON.parse(restic(commands.snapshots, s3.env).stdout) as { id: string; paths: string[] }[];
    t.is(snapshots.length, 1);
    t.deepEqual(snapshots[0]!.paths, [data]);

    // What the provider holds, under the prefix the file named, is restic's encrypted repository.
    const stored = filesUnder(join(s3.root, "asso-exemple-backups", "bastide", "daily"));
    t.true(stored.some((f) => f.includes(`${join("bastide", "daily", "data")}/`)), stored.join("\n"));
    for (const file of stored) t.false(readFileSync(file).includes(marker), `${file} holds the data in clear`);

    const target = join(work, "restored");
    const restore = restic(commands.restore(snapshots[0]!.id, target), s3.env);
    t.is(restore.status, 0, restore.stderr);
    for (const name of ["members.csv", join("nested", "photo.bin")])
      t.true(readFileSync(join(target, data, name)).equals(readFileSync(join(data, name))), `${name} differs after the restore`);
    t.is(statSync(join(target, data, "nested", "photo.bin")).size, 3 * 1024 * 1024);

    // The server checks the keys: a wrong secret key gets nothing.
    const refused = restic(commands.snapshots, { ...s3.env, AWS_SECRET_ACCESS_KEY: "wrong-secret-key-0000000000" });
    t.not(refused.status, 0);
    t.regex(refused.stderr, /SignatureDoesNotMatch|Access Denied|AccessDenied|InvalidAccessKeyId|signature/i);
  } finally {
    await s3.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
