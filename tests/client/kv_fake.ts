/** A fake server that keeps a tiny SET/GET store, for CLI tests. */
import { Code } from "../../protocol/codes.ts";
import { MsgType } from "../../protocol/messages.ts";
import { FakeServer } from "./fake_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Starts a fake server answering COMMANDs: SET, GET, LRANGE (fixed reply), others unknown. */
export function startKvFake(): Promise<FakeServer> {
  const store = new Map<string, Uint8Array>();
  return new FakeServer((req, reply) => {
    const cmd = (req.msg.command as (string | Uint8Array)[]).map((a) =>
      typeof a === "string" ? a : dec.decode(a)
    );
    const base = { type: MsgType.COMMAND_RESPONSE, request_id: req.msg.request_id };
    const name = cmd[0].toUpperCase();
    if (name === "SET") {
      store.set(cmd[1], enc.encode(cmd[2]));
      reply({ ...base, code: Code.OK, data: "OK" });
    } else if (name === "GET") {
      const v = store.get(cmd[1]);
      reply({ ...base, code: v ? Code.OK : Code.NOT_FOUND, data: v ?? null });
    } else if (name === "LRANGE") {
      reply({ ...base, code: Code.OK, data: [enc.encode("x"), enc.encode("y")] });
    } else {
      reply({
        ...base,
        code: Code.UNKNOWN_COMMAND,
        data: null,
        error: `unknown command '${cmd[0]}'`,
      });
    }
  }).start();
}
