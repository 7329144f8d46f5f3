// A real MariaDB server for tests: Debian's mariadbd (mariadb-server-core), in a fresh data
// folder, on 127.0.0.1 and a private socket, run as `nobody`. root logs in over the socket
// (unix_socket authentication), as the test process is root.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitUntil } from "./docker.ts";
import { requireProgram, run } from "./programs.ts";

export interface MariadbServer {
  port: number;
  /** Runs SQL as root over the socket; returns the tab-separated rows. */
  sql(statements: string, database?: string): string;
  stop(): Promise<void>;
}

const OWNER = "nobody";

export async function startMariadb(): Promise<MariadbServer> {
  const [installDb, mariadbd, client] = [requireProgram("mariadb-install-db", "mariadb-server-core"), requireProgram("mariadbd", "mariadb-server-core"), requireProgram("mariadb", "mariadb-client-core")];
  const dir = mkdtempSync(join(tmpdir(), "bastide-mariadb-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  mkdirSync(data);
  const uid = Number(run("id", ["-u", OWNER]).stdout.trim());
  const gid = Number(run("id", ["-g", OWNER]).stdout.trim());
  chownSync(data, uid, gid);
  chownSync(dir, uid, gid);
  const install = run(installDb, ["--no-defaults", `--user=${OWNER}`, `--datadir=${data}`, "--auth-root-authentication-method=socket", "--skip-test-db"], { timeoutMs: 120_000 });
  if (install.status !== 0) throw new Error(`mariadb-install-db: ${install.stderr}${install.stdout}`);
  const port = await freePort();
  const socket = join(dir, "mysqld.sock");
  let log = "";
  const child: ChildProcess = spawn(
    mariadbd,
    // As Framadate's container runs it (stacks/services/polls/blueprint.ts): utf8mb4 throughout.
    ["--no-defaults", `--user=${OWNER}`, `--datadir=${data}`, `--socket=${socket}`, `--pid-file=${join(dir, "mysqld.pid")}`, "--bind-address=127.0.0.1", `--port=${port}`, "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci", "--innodb-flush-log-at-trx-commit=2"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr!.on("data", (chunk) => (log += String(chunk)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const sql = (statements: string, database?: string) => {
    const answer = run(client, ["--no-defaults", `--socket=${socket}`, "--user=root", "--batch", "--skip-column-names", "--default-character-set=utf8mb4", ...(database ? [database] : [])], { input: statements, timeoutMs: 120_000 });
    if (answer.status !== 0) throw new Error(`mariadb: ${answer.stderr}`);
    return answer.stdout;
  };
  await waitUntil("mariadbd", () => {
    if (child.exitCode !== null) throw new Error(`mariadbd exited: ${log.slice(-2000)}`);
    return run(client, ["--no-defaults", `--socket=${socket}`, "--user=root", "-e", "SELECT 1"]).status === 0;
  }, { timeoutMs: 60_000 });
  return {
    port,
    sql,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
