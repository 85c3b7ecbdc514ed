/**
 * A minimal protocol client over node:net for tests: sends raw bytes or framed CBOR messages and
 * collects decoded responses. Independent of the client library, so protocol tests test the server.
 */
import net from "node:net";
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { FrameDecoder } from "../../transports/tcp/frame_decoder.ts";

export class RawClient {
  readonly socket: net.Socket;
  readonly messages: Record<string, unknown>[] = [];
  closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const dec = new FrameDecoder(64 * 1024 * 1024);
    socket.on("data", (d: Buffer) => {
      dec.push(d, (f) => this.messages.push(decodeCbor(f) as Record<string, unknown>));
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** `localAddress` picks the source address (e.g. another 127/8 address, as another host). */
  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress });
      s.setNoDelay(true);
      s.once("error", reject);
      s.once("connect", () => resolve(new RawClient(s)));
    });
  }

  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(msg: unknown): void {
    const body = encodeCbor(msg);
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    this.socket.write(frame);
  }

  /** Waits (bounded) until `pred` holds for the received messages / closed state. */
  async until(pred: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.messages.slice(-3))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends a COMMAND_BATCH and waits for its response. */
  async batch(
    commands: unknown[],
    batchId = `b${Math.random()}`,
    extra: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    this.send({
      type: 3,
      batch_id: batchId,
      commands_cbor: encodeCbor(commands).slice(),
      ...extra,
    });
    let found: Record<string, unknown> | undefined;
    await this.until(() =>
      (found = this.messages.find((m) => m.batch_id === batchId)) !== undefined
    );
    this.messages.splice(this.messages.indexOf(found!), 1);
    return found!;
  }

  close(): void {
    this.socket.destroy();
  }
}
