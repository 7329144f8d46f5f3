// A real SFTP server for tests: Debian's OpenSSH sshd, started unprivileged on 127.0.0.1 with
// a host key and a client key generated for this run. It runs as `nobody`, so the only login it
// can grant is nobody's, and only with the generated key.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitUntil } from "./docker.ts";
import { requireProgram, run } from "./programs.ts";

export interface SftpServer {
  host: string;
  port: number;
  user: string;
  /** A folder the SFTP user may write, for the repository. */
  writable: string;
  /** The client's private key and the server's host key line, as restic's ssh reads them. */
  clientKey: string;
  knownHosts: string;
  /** The server's host key, "ssh-ed25519 AAAA…", as the association file gives it. */
  hostKey: string;
  stop(): Promise<void>;
}

const USER = "nobody";

export async function startSftpServer(): Promise<SftpServer> {
  const sshd = requireProgram("/usr/sbin/sshd", "openssh-server");
  const keygen = requireProgram("ssh-keygen", "openssh-client");
  const dir = mkdtempSync(join(tmpdir(), "bastide-sftp-"));
  chmodSync(dir, 0o755);
  const uid = Number(run("id", ["-u", USER]).stdout.trim());
  const gid = Number(run("id", ["-g", USER]).stdout.trim());
  for (const name of ["host_key", "client_key"]) {
    const made = run(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", `bastide-test-${name}`, "-f", join(dir, name)]);
    if (made.status !== 0) throw new Error(`ssh-keygen: ${made.stderr}`);
  }
  // sshd reads its host key as the user it runs as.
  chownSync(join(dir, "host_key"), uid, gid);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")), { mode: 0o644 });
  const writable = join(dir, "storage");
  mkdirSync(writable);
  chownSync(writable, uid, gid);
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `AllowUsers ${USER}`,
      "PidFile none",
      // With PAM off, sshd refuses a user whose password is locked, as nobody's is (auth.c,
      // allowed_user); PAM's account check lets a key login through.
      "UsePAM yes",
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "Subsystem sftp internal-sftp",
      "ForceCommand internal-sftp",
      "",
    ].join("\n"),
  );
  const hostKey = readFileSync(join(dir, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);

  let log = "";
  const child: ChildProcess = spawn("runuser", ["-u", USER, "--", sshd, "-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (chunk) => (log += String(chunk)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitUntil(`sshd on 127.0.0.1:${port}`, () => {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${log}`);
    return log.includes("Server listening");
  });
  return {
    host: "127.0.0.1",
    port,
    user: USER,
    writable,
    clientKey: join(dir, "client_key"),
    knownHosts: join(dir, "known_hosts"),
    hostKey,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
