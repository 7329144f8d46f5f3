// A Nextcloud that answers exactly as the real one was recorded answering
// (test/contracts/recordings/nextcloud-34/, made by `npm run contracts:record`): an HTTP
// server that serves each recorded response to the request that was recorded, and an
// occ runner that gives each recorded command its exit code, standard output and standard
// error. A call the recording does not hold is answered 599 (HTTP) or rejected (occ) and
// listed in `unrecorded`, so a test sees any call Bastide makes that the real server never
// answered. The same request recorded several times is answered in the recorded order
// (e.g. a PROPFIND before and after a creation), the last answer repeating.
import { readdirSync, readFileSync } from "node:fs";
import { FakeServer, type FakeRequest } from "./fake-server.ts";
import { commandLine, type OccRunner, type CommandResult } from "../../provisioners/nextcloud-settings/occ.ts";
import { basicAuth } from "./replay.ts";

export const RECORDINGS = new URL("../contracts/recordings/nextcloud-34/", import.meta.url);

export interface RecordedHttp {
  note?: string;
  request: { method: string; path: string; headers?: Record<string, string>; body: string | null };
  response: { status: number; headers?: Record<string, string>; body?: string };
}

export interface RecordedCommand {
  note?: string;
  /** What occ read on its standard input, when it read anything (a secret as its placeholder). */
  stdin?: string;
  command: string;
  exit: number;
  stdout: string;
  stderr: string;
}

export interface Recording {
  scenario: string;
  server: string;
  recorded: string;
  description: string;
  exchanges: (RecordedHttp | RecordedCommand)[];
}

export const isCommand = (e: RecordedHttp | RecordedCommand): e is RecordedCommand => "command" in e;

export function recordingNames(): string[] {
  return readdirSync(RECORDINGS)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""))
    .sort();
}

export function loadRecording(name: string): Recording {
  return JSON.parse(readFileSync(new URL(`${name}.json`, RECORDINGS), "utf8")) as Recording;
}

/** The credentials the recordings stand for, and what the fake takes in their place. */
export const SERVICE_USER = "_bastide";
export const SERVICE_PASSWORD = "recorded-service-password";
export const APP_PASSWORD = "recorded-app-password";
/** The test-only client secrets user-oidc.json was recorded with (scripts/contracts-record.ts, recordUserOidc). */
export const OIDC_CLIENT_SECRETS = ["recording-oidc-client-secret-1", "recording-oidc-client-secret-2"] as const;
const CREDENTIALS: Record<string, string> = {
  "Basic <service>": basicAuth(SERVICE_USER, SERVICE_PASSWORD),
  [`Basic <${SERVICE_USER}:app-password>`]: basicAuth(SERVICE_USER, APP_PASSWORD),
};

/** Placeholders back into values of their type (the recorder's, see scripts/contracts-record.ts). */
function fill(text: string): string {
  return text
    .replace(/"<timestamp>"/g, "1765000000")
    .replace(/"<bytes>"/g, "1000")
    .replace(/&lt;etag&gt;|<etag>/g, '"0123456789abcdef"')
    .replace(/&lt;date&gt;/g, "Mon, 07 Dec 2026 03:00:00 GMT")
    .replace(/<datadir>/g, "/var/www/html/data")
    .replace(/<token>/g, APP_PASSWORD)
    .replace(/<oidc-client-secret-(\d)>/g, (_, n: string) => OIDC_CLIENT_SECRETS[Number(n) - 1]!);
}

/** Serves the recorded answers, in order, per request (method, path, body, credentials). */
class Queues<T> {
  private readonly queues = new Map<string, T[]>();
  private readonly last = new Map<string, T>();

  add(key: string, value: T): void {
    this.queues.set(key, [...(this.queues.get(key) ?? []), value]);
  }

  take(key: string): T | undefined {
    const queue = this.queues.get(key);
    const next = queue?.shift();
    if (next !== undefined) {
      this.last.set(key, next);
      return next;
    }
    return this.last.get(key);
  }
}

const httpKey = (method: string, path: string, authorization: string | undefined, body: string | null) =>
  JSON.stringify([method.toUpperCase(), path, authorization ?? "", body ?? ""]);

export interface RecordedNextcloud {
  url: string;
  server: FakeServer;
  occ: OccRunner;
  /** Calls the recordings do not hold: "METHOD path" or "occ args". */
  unrecorded: string[];
  /** occ commands run, in order. */
  commands: string[];
  stop(): Promise<void>;
}

/** A Nextcloud answering as the recordings `names` hold (in the order given). */
export async function startRecordedNextcloud(...names: string[]): Promise<RecordedNextcloud> {
  const http = new Queues<RecordedHttp["response"]>();
  const occ = new Queues<RecordedCommand>();
  for (const name of names) {
    for (const exchange of loadRecording(name).exchanges) {
      if (isCommand(exchange)) occ.add(exchange.command, exchange);
      else {
        const auth = exchange.request.headers?.Authorization;
        http.add(httpKey(exchange.request.method, exchange.request.path, auth && (CREDENTIALS[auth] ?? auth), exchange.request.body), exchange.response);
      }
    }
  }
  const unrecorded: string[] = [];
  const commands: string[] = [];
  const server = new FakeServer((request: FakeRequest) => {
    const auth = request.headers.authorization;
    const response = http.take(httpKey(request.method, request.path, Array.isArray(auth) ? auth[0] : auth, request.body === "" ? null : request.body));
    if (!response) {
      unrecorded.push(`${request.method} ${request.path}`);
      return { status: 599, headers: { "Content-Type": "text/plain" }, body: `not recorded: ${request.method} ${request.path}` };
    }
    const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([name, value]) => [name, fill(value)]));
    return { status: response.status, headers, body: fill(response.body ?? "") };
  });
  const url = await server.start();
  return {
    url,
    server,
    unrecorded,
    commands,
    occ: {
      where: "the recorded Nextcloud",
      async run(argv, input): Promise<CommandResult> {
        const command = commandLine(argv);
        commands.push(command);
        const recorded = occ.take(command);
        if (!recorded) {
          unrecorded.push(`occ ${argv.slice(2).join(" ")}`);
          throw new Error(`occ: not recorded: ${command}`);
        }
        // What occ read on its standard input is part of the exchange (the client secret, for user_oidc).
        if ((recorded.stdin === undefined ? undefined : fill(recorded.stdin)) !== (input || undefined)) {
          unrecorded.push(`occ ${argv.slice(2).join(" ")} (standard input differs)`);
          throw new Error(`occ: not recorded with this standard input: ${command}`);
        }
        return { exitCode: recorded.exit, stdout: fill(recorded.stdout), stderr: fill(recorded.stderr) };
      },
    },
    stop: () => server.stop(),
  };
}
