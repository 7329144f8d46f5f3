// A mail relay for tests: nodemailer's smtp-server on 127.0.0.1, with STARTTLS on a certificate
// made for this run (openssl) and a login, as an association's submission server on port 587
// asks. It keeps every message it accepts, with the login and the envelope.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { freePort } from "./docker.ts";
import { requireProgram, run } from "./programs.ts";

export interface ReceivedMail {
  user: string | undefined;
  from: string;
  to: string[];
  data: string;
}

export interface MailRelay {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The relay's certificate (PEM), for the client's trust file. */
  certificate: string;
  received: ReceivedMail[];
  stop(): Promise<void>;
}

export async function startMailRelay(username: string, password: string): Promise<MailRelay> {
  const openssl = requireProgram("openssl", "openssl");
  const dir = mkdtempSync(join(tmpdir(), "bastide-smtp-"));
  const made = run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const certificate = readFileSync(join(dir, "cert.pem"), "utf8");
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    key: readFileSync(join(dir, "key.pem")),
    cert: certificate,
    authMethods: ["PLAIN", "LOGIN"],
    // A login only over TLS, as a real submission server.
    allowInsecureAuth: false,
    onAuth(auth, _session, callback) {
      if (auth.username === username && auth.password === password) callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      let data = "";
      stream.on("data", (chunk: Buffer) => (data += chunk.toString("utf8")));
      stream.on("end", () => {
        received.push({ user: session.user as string | undefined, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "", to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
    logger: false,
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    host: "127.0.0.1",
    port,
    username,
    password,
    certificate,
    received,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
