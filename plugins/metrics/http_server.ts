/**
 * The metrics plugin's HTTP server: `/metrics`, `/health`, `/api/stats` and `/dashboard`.
 *
 * Built on `node:http`, which Bun and Deno both implement natively: this is a handful of GET
 * routes scraped a few times a second at most, so one portable server beats a per-runtime adapter
 * (`Deno.serve`/`Bun.serve`) that would need its own tests on each runtime for no measurable gain.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import type { Logger } from "../../core/config/logger.ts";
import { listenProblem } from "../../core/config/os_errors.ts";

/** A route's answer. */
export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** What a route knows about the request. */
export interface RequestInfo {
  /** The client's address (no port), e.g. `127.0.0.1` or `::1`; "" when unknown. */
  remoteAddress: string;
}

/** Routes: path → handler (GET and HEAD only). */
export type Routes = Readonly<
  Record<string, (req: RequestInfo) => HttpReply | Promise<HttpReply>>
>;

/** True for a loopback client address (IPv4 127/8, IPv6 ::1, IPv4-mapped 127/8). */
export function isLoopback(addr: string): boolean {
  return addr === "::1" || addr.startsWith("127.") || addr.startsWith("::ffff:127.");
}

/** A running metrics HTTP server. */
export interface MetricsHttpServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** JSON reply helper. */
export function json(status: number, value: unknown): HttpReply {
  return { status, contentType: "application/json; charset=utf-8", body: JSON.stringify(value) };
}

function send(res: ServerResponse, r: HttpReply, head: boolean): void {
  res.writeHead(r.status, {
    "content-type": r.contentType,
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(r.body)),
    ...r.headers,
  });
  res.end(head ? undefined : r.body);
}

/**
 * Starts the server on `host:port` (port 0 = ephemeral). Rejects with a message naming the address
 * when it cannot listen (e.g. the port is taken).
 */
export function startHttpServer(
  host: string,
  port: number,
  routes: Routes,
  log: Logger,
): Promise<MetricsHttpServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0];
    if (method !== "GET" && method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, json(405, { error: `method ${method} not allowed` }), false);
    }
    const handler = routes[path];
    if (!handler) {
      return send(
        res,
        json(404, { error: `no route ${path}`, routes: Object.keys(routes) }),
        method === "HEAD",
      );
    }
    const info: RequestInfo = { remoteAddress: req.socket?.remoteAddress ?? "" };
    Promise.resolve(info)
      .then(handler)
      .then(
        (r) => send(res, r, method === "HEAD"),
        (err: unknown) => {
          log.error(`GET ${path} failed: ${(err as Error)?.message ?? err}`);
          send(res, json(500, { error: String((err as Error)?.message ?? err) }), false);
        },
      );
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      reject(new Error(`metrics: cannot listen on ${host}:${port}: ${listenProblem(err, port)}`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      server.on("error", (err) => log.error(`http server error: ${err.message}`));
      const bound = (server.address() as AddressInfo).port;
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            const s = server as Server & { closeAllConnections?: () => void };
            s.closeAllConnections?.();
          }),
      });
    });
  });
}
