// The base of the Nextcloud and Synapse fakes: Nextcloud cannot run here, and the real Synapse does, so its fake serves only tests that inject faults.
// Each fake answers as the project's recordings in test/contracts/recordings/ do; this base adds what
// tests need around it: a log of every request, added latency, and injected faults.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// The fakes count writes as the client does: the zero-writes tests compare the two.
import { isReadMethod } from "../../provisioners/runtime/http.ts";

export interface FakeRequest {
  method: string;
  /** Path with its query string, as sent. */
  path: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Handler = (request: FakeRequest) => FakeResponse | Promise<FakeResponse>;

/** A fault served instead of the real answer, for requests that match. */
export interface Fault {
  /** Which requests; all when absent. */
  match?: (request: FakeRequest) => boolean;
  /** How many matching requests get the fault. */
  times: number;
  /** An HTTP answer, or `drop` to close the connection without one, or `hang` to never answer. */
  response: FakeResponse | "drop" | "hang";
}


export class FakeServer {
  readonly log: { method: string; path: string; status: number | "drop" | "hang" }[] = [];
  /** Added before every answer, e.g. 30 ms for the benchmark. */
  latencyMs = 0;
  private readonly faults: Fault[] = [];
  private readonly handler: Handler;
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();

  constructor(handler: Handler) {
    this.handler = handler;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  writes(): number {
    return this.log.filter((l) => !isReadMethod(l.method)).length;
  }

  reads(): number {
    return this.log.filter((l) => isReadMethod(l.method)).length;
  }

  resetLog(): void {
    this.log.length = 0;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? "/";
    const request: FakeRequest = {
      method: req.method ?? "GET",
      path,
      url: new URL(path, "http://127.0.0.1"),
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const fault = this.faults.find((f) => f.times > 0 && (!f.match || f.match(request)));
    if (fault) {
      fault.times--;
      if (fault.response === "drop") {
        this.log.push({ method: request.method, path, status: "drop" });
        req.socket.destroy();
        return;
      }
      if (fault.response === "hang") {
        this.log.push({ method: request.method, path, status: "hang" });
        this.hanging.add(res);
        return;
      }
      this.send(res, request, fault.response);
      return;
    }
    let response: FakeResponse;
    try {
      response = await this.handler(request);
    } catch (error) {
      response = { status: 500, headers: { "Content-Type": "text/plain" }, body: `fake server error: ${(error as Error).message}` };
    }
    this.send(res, request, response);
  }

  private send(res: ServerResponse, request: FakeRequest, response: FakeResponse): void {
    this.log.push({ method: request.method, path: request.path, status: response.status });
    res.writeHead(response.status, response.headers ?? {});
    res.end(response.body ?? "");
  }
}
