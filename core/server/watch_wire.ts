/**
 * WATCH_EVENTS encoded by hand: each history event is CBOR-encoded once (shared by every watch
 * that sends it) and a message is its header followed by those bytes, instead of encoding the
 * same events again for each of many watchers (encoding was most of the fan-out's cost). The
 * bytes are plain CBOR, exactly what `encodeCbor` of the message would decode to (docs/protocol.md).
 * @module
 */
import { MsgType } from "../../protocol/messages.ts";
import { keyToBytes } from "../state/bytes.ts";
import type { HistoryEvent } from "../state/watch_history.ts";

/** CBOR head: major type `major` with argument `n` (an unsigned safe integer). */
function head(out: number[], major: number, n: number): void {
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >> 8, n & 0xff);
  else if (n < 0x100000000) out.push(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    out.push(m | 27, hi >>> 24, (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff);
    out.push(lo >>> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff);
  }
}

function text(out: number[], s: string): void {
  head(out, 3, s.length); // ASCII field names only
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

const encoded = new WeakMap<HistoryEvent, Uint8Array>();

/** `[type, key, value, create_rev, mod_rev, version, rev]` as CBOR, made once per event. */
export function encodedEvent(e: HistoryEvent): Uint8Array {
  let b = encoded.get(e);
  if (b !== undefined) return b;
  const key = keyToBytes(e.key);
  const v = e.value;
  const pre: number[] = [0x87];
  head(pre, 0, e.type);
  head(pre, 2, key.length);
  const mid: number[] = [];
  if (v === null) mid.push(0xf6);
  else head(mid, 2, v.length);
  const tail: number[] = [];
  head(tail, 0, e.createRev);
  head(tail, 0, e.modRev);
  head(tail, 0, e.version);
  head(tail, 0, e.rev);
  b = new Uint8Array(pre.length + key.length + mid.length + (v?.length ?? 0) + tail.length);
  let o = 0;
  b.set(pre, o);
  b.set(key, o += pre.length);
  b.set(mid, o += key.length);
  o += mid.length;
  if (v !== null) {
    b.set(v, o);
    o += v.length;
  }
  b.set(tail, o);
  encoded.set(e, b);
  return b;
}

/** A WATCH_EVENTS message `{type, watch_id, rev, events}` holding the encoded `events`. */
export function eventsMessage(watchId: number, rev: number, events: Uint8Array[]): Uint8Array {
  const h: number[] = [0xa4];
  text(h, "type");
  head(h, 0, MsgType.WATCH_EVENTS);
  text(h, "watch_id");
  head(h, 0, watchId);
  text(h, "rev");
  head(h, 0, rev);
  text(h, "events");
  head(h, 4, events.length);
  let n = h.length;
  for (const e of events) n += e.length;
  const out = new Uint8Array(n);
  out.set(h);
  let o = h.length;
  for (const e of events) {
    out.set(e, o);
    o += e.length;
  }
  return out;
}
