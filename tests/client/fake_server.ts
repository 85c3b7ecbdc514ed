/**
 * A scriptable fake TinyKV server for client tests: a real TCP listener (loopback, port 0) that
 * decodes requests and lets each test decide how (and when) to answer.
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { Code } from "../../protocol/codes.ts";
import { MsgType } from "../../protocol/messages.ts";
import { createTransport } from "../../transports/mod.ts";
import type { Connection, Listener } from "../../transports/types.ts";

/** A decoded request, with `commands` decoded from `commands_cbor` for batches. */
export interface Received {
  msg: Record<string, unknown>;
  commands: unknown[];
  conn: Connection;
}

/** Decides the answer; call `reply` now, later, or never. */
export type Script = (req: Received, reply: (msg: Record<string, unknown>) => void) => void;

/** Answers every command of a batch (or a COMMAND) with OK and the command name as data. */
export const okScript: Script = (req, reply) => {
  const m = req.msg;
  if (m.type === MsgType.AUTH) {
    reply({ type: MsgType.AUTH_RESPONSE, code: Code.OK });
  } else if (m.type === MsgType.COMMAND) {
    reply({ type: MsgType.COMMAND_RESPONSE, request_id: m.request_id, code: Code.OK, data: "OK" });
  } else {
    reply(batchOk(m.batch_id as string, req.commands.length));
  }
};

/** A BATCH_RESPONSE with `n` OK slots whose data is the slot number. */
export function batchOk(batchId: string, n: number): Record<string, unknown> {
  return {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: new Array(n).fill(Code.OK),
    data: Array.from({ length: n }, (_, i) => i),
    errors: new Array(n).fill(null),
  };
}

/** A BATCH_RESPONSE where every slot has `code`. */
export function batchAll(
  batchId: string,
  n: number,
  code: number,
  error: string,
  leader?: string,
): Record<string, unknown> {
  const r: Record<string, unknown> = {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: new Array(n).fill(code),
    data: new Array(n).fill(null),
    errors: new Array(n).fill(error),
  };
  if (leader) r.leader = leader;
  return r;
}

/** A running fake server. */
export class FakeServer {
  readonly received: Received[] = [];
  connections = 0;
  script: Script;
  /** The code AUTH gets (default OK). */
  authCode: (msg: Record<string, unknown>) => number = () => Code.OK;
  #listener: Listener | null = null;
  readonly #conns = new Set<Connection>();

  constructor(script: Script = okScript) {
    this.script = script;
  }

  get port(): number {
    return this.#listener!.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Received batches and commands (AUTH excluded). */
  get requests(): Received[] {
    return this.received.filter((r) => r.msg.type !== MsgType.AUTH);
  }

  async start(): Promise<this> {
    const t = await createTransport("tcp");
    this.#listener = await t.listen(
      { host: "127.0.0.1", port: 0, maxMessageBytes: 1024 * 1024 },
      (conn) => {
        this.connections++;
        this.#conns.add(conn);
        return {
          onMessage: (c, bytes) => {
            const msg = decodeCbor(bytes) as Record<string, unknown>;
            const commands = msg.commands_cbor instanceof Uint8Array
              ? decodeCbor(msg.commands_cbor) as unknown[]
              : Array.isArray(msg.commands)
              ? msg.commands
              : [];
            const req = { msg, commands, conn: c };
            this.received.push(req);
            if (msg.type === MsgType.AUTH) {
              const code = this.authCode(msg);
              c.send(encodeCbor({ type: MsgType.AUTH_RESPONSE, code, error: code ? "nope" : "" }));
              return;
            }
            this.script(req, (m) => c.send(encodeCbor(m)));
          },
          onClose: (c) => this.#conns.delete(c),
        };
      },
    );
    return this;
  }

  /** Closes the connections of this server (simulates a crash of the node's sockets). */
  dropConnections(): void {
    for (const c of this.#conns) c.close();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await this.#listener?.close();
  }
}
