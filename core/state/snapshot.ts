/**
 * The state machine's snapshot format: a compact, self-checking binary encoding of every key.
 *
 * Layout: `"TKVS"` magic, version byte (3), varint key count, the key table's layout (version 3:
 * varint span, varint free-position count, the free positions bottom of the stack first), the
 * keys, then a CRC-32 (IEEE, big-endian) of everything before it. Each key: (version 3) a varint
 * position tag — `2 × gap` for a key of the position-ordered walk (gap = positions skipped since
 * the previous one), `2 × position + 1` for one preserved out of order — then kind byte, key
 * bytes, varint expireAt, varint
 * createRev, varint modRev, varint version (not in version-1 snapshots: read as 1), then the
 * value by kind — string: bytes; list/set: varint count +
 * items; hash: varint count + (field, value) pairs; zset: varint count + (member, float64 score)
 * in score order. "bytes" = varint length + raw bytes. Varints are LEB128 up to 2^53.
 *
 * Then, only when the state has ever had a lease, the leases section: byte `0x4c` ("L"), varint
 * next lease id, varint lease count, and per lease (in id order): varint id, varint ttl (s),
 * varint renewedAt (ms), varint renewRev, varint key count + keys (each key present in the
 * snapshot, on at most one lease). A state without leases encodes exactly as before it existed.
 *
 * Keys are written in key-table position order, set members and hash fields in insertion order:
 * both are replicated, so equal states (same applied log) produce identical bytes, and a restored
 * replica keeps the same positions (RANDOMKEY, the snapshot's own order) and member order (e.g.
 * HKEYS) as the one that applied the log. Versions 1 and 2 have no layout: keys take positions
 * 0, 1, 2, ... in the order written.
 * @module
 */
import { crc32 as nativeCrc32 } from "@node-rs/crc32";
import { alloc, copyInto } from "./bytes.ts";
import { Deque } from "./deque.ts";
import { KeyEntry, Keyspace, Kind } from "./keyspace.ts";
import type { KeyTable } from "./key_table.ts";
import type { KindTag } from "./keyspace.ts";
import { Lease, MAX_LEASE_TTL, MAX_LEASES, MIN_LEASE_TTL } from "./leases.ts";
import { SortedSet } from "./sorted_set.ts";

const MAGIC = [0x54, 0x4b, 0x56, 0x53]; // "TKVS"
const VERSION = 3;
/** The oldest snapshot version still read (1: no per-key version field). */
const OLDEST_VERSION = 1;
/** Marks the leases section after the keys. */
const LEASES_SECTION = 0x4c;
/** Platform byte order (scores are written little-endian everywhere). */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** CRC-32 (IEEE) of `b[0..end)`, computed natively (N-API; works in Deno and Bun). */
function crc32(b: Uint8Array, end: number): number {
  return nativeCrc32(b.subarray(0, end)) >>> 0;
}

class Writer {
  buf: Uint8Array;
  pos = 0;
  readonly #f64 = new Float64Array(1);
  readonly #f64b = new Uint8Array(this.#f64.buffer);

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(4096, capacity));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  byte(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  varint(n: number): void {
    this.ensure(8);
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.varint(n);
    this.ensure(n);
    copyInto(this.buf, this.pos, b, 0, n);
    this.pos += n;
  }

  /** A string entry's value, as {@link bytes} writes it, with no view made. */
  entryBytes(e: KeyEntry): void {
    const n = e.byteLength;
    this.varint(n);
    this.ensure(n);
    e.copyBytes(this.buf, this.pos);
    this.pos += n;
  }

  /** A binary key string (one code unit per byte). */
  key(s: string): void {
    const n = s.length;
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  f64(v: number): void {
    this.ensure(8);
    this.#f64[0] = v;
    for (let i = 0; i < 8; i++) this.buf[this.pos++] = this.#f64b[LE ? i : 7 - i];
  }
}

/** Writes one key's record. */
function encodeEntry(w: Writer, k: string, e: KeyEntry): void {
  w.byte(e.kind);
  w.key(k);
  encodeFields(w, e);
}

/** {@link encodeEntry} for the key at position `pos` of `t`: its bytes copied, no string made. */
function encodeEntryAt(w: Writer, t: KeyTable, pos: number, e: KeyEntry): void {
  w.byte(e.kind);
  const n = t.keyLengthAt(pos);
  w.varint(n);
  w.ensure(n);
  t.copyKeyInto(pos, w.buf, w.pos);
  w.pos += n;
  encodeFields(w, e);
}

/** An entry's fields after its kind and key. */
function encodeFields(w: Writer, e: KeyEntry): void {
  w.varint(e.expireAt);
  w.varint(e.createRev);
  w.varint(e.modRev);
  w.varint(e.version);
  switch (e.kind) {
    case Kind.STRING:
      w.entryBytes(e);
      break;
    case Kind.LIST: {
      const d = e.value as Deque;
      w.varint(d.length);
      for (let i = 0; i < d.length; i++) w.bytes(d.at(i));
      break;
    }
    case Kind.SET: {
      const s = e.value as Set<string>;
      w.varint(s.size);
      for (const m of s) w.key(m);
      break;
    }
    case Kind.HASH: {
      const h = e.value as Map<string, Uint8Array>;
      w.varint(h.size);
      for (const [f, v] of h) {
        w.key(f);
        w.bytes(v);
      }
      break;
    }
    case Kind.ZSET: {
      const z = e.value as SortedSet;
      w.varint(z.size);
      for (let n = z.first(); n !== null; n = n.next[0]) {
        w.key(n.member);
        w.f64(n.score);
      }
      break;
    }
  }
}

/** The leases section (see the module doc), or null when the state never had a lease. */
function encodeLeases(db: Keyspace): Writer | null {
  const t = db.leases;
  if (t.nextId === 1) return null;
  const w = new Writer(64 + 16 * t.map.size);
  w.byte(LEASES_SECTION);
  w.varint(t.nextId);
  w.varint(t.map.size);
  for (const l of t.map.values()) {
    w.varint(l.id);
    w.varint(l.ttl);
    w.varint(l.renewedAt);
    w.varint(l.renewRev);
    w.varint(l.keys.size);
    for (const k of l.keys) w.key(k);
  }
  return w;
}

/**
 * Encodes the keyspace as it is when constructed, in steps, so a large state can be written out
 * across several event-loop turns while commands keep changing it (see
 * {@link Keyspace.beginSnapshot}): entries are visited in store order; an entry about to change
 * before being visited is encoded first, as it was, into a side buffer appended at the end.
 * `head`, if given, is written first and is not part of the state snapshot (the caller's
 * envelope, so the whole payload is built in one buffer without copying the state again);
 * `sizeHint` (e.g. the previous snapshot's size) presizes the buffer. The CRC covers the state
 * snapshot only. Entries are in store order when nothing changed meanwhile (so equal states give
 * identical bytes); entries preserved during the walk come last.
 */
export class SnapshotEncoder {
  readonly #db: Keyspace;
  /** The output, allocated once the head is known ({@link prefix} or the first step). */
  #w: Writer | null = null;
  /** The state header (magic, version, counts, free list), written at the start. */
  readonly #start: Writer;
  readonly #sizeHint: number;
  readonly #gen: number;
  /** The key table's span at the start, the next position to walk, the last one written. */
  readonly #span: number;
  #next = 0;
  #last = -1;
  #preserved: Writer | null = null;
  /** One handle pointed at each position walked (no handle per key). */
  #cursor: KeyEntry | undefined;
  /** The leases section, encoded at the start (it is small: ids, ttls and the attached keys). */
  readonly #leases: Writer | null;
  #done = false;
  /** CRC of the bytes before #crcPos, kept up to date step by step (no long pass at the end). */
  #crc = 0;
  #crcPos = 0;

  /**
   * Captures the state now. `head` is written first; without one, {@link prefix} may give it
   * later, before the first {@link step} (the caller's envelope may hold other state captured at
   * the same moment but encoded in steps of its own).
   */
  constructor(db: Keyspace, head?: Uint8Array, sizeHint = 0) {
    const w = new Writer(64);
    for (const m of MAGIC) w.byte(m);
    w.byte(VERSION);
    const t = db.store;
    w.varint(t.size); // every key present now is written exactly once
    this.#span = t.span;
    w.varint(t.span);
    const free = t.freeList();
    w.varint(free.length);
    for (const p of free) w.varint(p);
    this.#start = w;
    this.#sizeHint = sizeHint;
    if (head) this.prefix(head);
    this.#db = db;
    this.#leases = encodeLeases(db);
    this.#gen = db.beginSnapshot((k, e) => {
      const pw = this.#preserved ??= new Writer(4096);
      pw.varint(2 * t.positionOf(k) + 1); // still in the table: preserved before it changes
      encodeEntry(pw, k, e);
    });
  }

  /** Sets the bytes written before the state (once, before the first {@link step}). */
  prefix(head: Uint8Array): void {
    if (this.#w !== null) throw new Error("snapshot head given after the encoding started");
    const st = this.#start;
    const w = new Writer(Math.ceil(this.#sizeHint * 1.125) + head.length + st.pos);
    w.buf.set(head);
    w.pos = head.length;
    this.#crcPos = w.pos;
    w.buf.set(st.buf.subarray(0, st.pos), w.pos);
    w.pos += st.pos;
    this.#w = w;
  }

  /** Encodes up to `budget` more entries; true once every entry is written. */
  step(budget: number): boolean {
    if (this.#done) return true;
    if (this.#w === null) this.prefix(new Uint8Array(0));
    const w = this.#w!;
    const gen = this.#gen;
    const t = this.#db.store;
    for (let n = 0; n < budget; n++) {
      const p = this.#next;
      if (p >= this.#span) {
        this.#done = true;
        this.#db.endSnapshot();
        return true;
      }
      this.#next = p + 1;
      // Keys never move (key_table.ts): the walk sees every key present at the start that has
      // not changed since; a position freed and reused meanwhile holds a new key (skipped).
      const e = t.entryAt(p, this.#cursor);
      if (e === undefined || e.snapSeen === gen) continue; // free, preserved, or new
      this.#cursor = e;
      e.snapSeen = gen;
      w.varint(2 * (p - this.#last - 1));
      this.#last = p;
      encodeEntryAt(w, t, p, e);
    }
    this.#checksum();
    return false;
  }

  #checksum(): void {
    const w = this.#w!;
    if (w.pos > this.#crcPos) {
      this.#crc = nativeCrc32(w.buf.subarray(this.#crcPos, w.pos), this.#crc);
      this.#crcPos = w.pos;
    }
  }

  /** The finished snapshot (call after {@link step} returned true). */
  finish(): Uint8Array {
    if (!this.#done) throw new Error("snapshot not finished");
    const w = this.#w!;
    const pre = this.#preserved;
    if (pre) {
      w.ensure(pre.pos);
      w.buf.set(pre.buf.subarray(0, pre.pos), w.pos);
      w.pos += pre.pos;
    }
    const ls = this.#leases;
    if (ls) {
      w.ensure(ls.pos);
      w.buf.set(ls.buf.subarray(0, ls.pos), w.pos);
      w.pos += ls.pos;
    }
    this.#checksum();
    const crc = this.#crc >>> 0;
    w.ensure(4);
    w.buf[w.pos++] = crc >>> 24;
    w.buf[w.pos++] = (crc >>> 16) & 0xff;
    w.buf[w.pos++] = (crc >>> 8) & 0xff;
    w.buf[w.pos++] = crc & 0xff;
    // No final copy: copying a large state in one go would stall the event loop, and the buffer
    // was presized from the previous snapshot (bytes per key), so the slack is small.
    return w.buf.subarray(0, w.pos);
  }

  /** Abandons the snapshot (the keyspace stops preserving entries). */
  abort(): void {
    if (!this.#done) this.#db.endSnapshot();
    this.#done = true;
  }
}

/** Serialises the keyspace in one go (see {@link SnapshotEncoder} for the arguments). */
export function encodeSnapshot(db: Keyspace, head?: Uint8Array, sizeHint = 0): Uint8Array {
  const enc = new SnapshotEncoder(db, head, sizeHint);
  enc.step(Infinity);
  return enc.finish();
}

class Reader {
  pos = 0;
  readonly #f64 = new Float64Array(1);
  readonly #f64b = new Uint8Array(this.#f64.buffer);
  constructor(readonly buf: Uint8Array, readonly end: number) {}

  fail(what: string): never {
    throw new Error(`corrupt state snapshot: ${what} at byte ${this.pos}`);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail("unexpected end");
    return this.buf[this.pos++];
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 127) * mul;
      if (b < 128) break;
      mul *= 128;
      if (mul > 2 ** 56) this.fail("varint too long");
    }
    if (!Number.isSafeInteger(v)) this.fail("integer out of range");
    return v;
  }

  /** A length/count that must fit in the remaining bytes (each item takes ≥ `min` bytes). */
  count(min: number): number {
    const n = this.varint();
    if (n * min > this.end - this.pos) this.fail(`count ${n} exceeds the remaining data`);
    return n;
  }

  bytes(): Uint8Array {
    const n = this.count(1);
    const b = alloc(n); // own copy (slab for small values): never pins the snapshot buffer
    b.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  key(): string {
    const n = this.count(1);
    let s = "";
    const CH = 4096;
    for (let i = 0; i < n; i += CH) {
      const sub = this.buf.subarray(this.pos + i, this.pos + Math.min(n, i + CH));
      s += String.fromCharCode.apply(null, sub as unknown as number[]);
    }
    this.pos += n;
    return s;
  }

  f64(): number {
    if (this.pos + 8 > this.end) this.fail("unexpected end");
    for (let i = 0; i < 8; i++) this.#f64b[LE ? i : 7 - i] = this.buf[this.pos++];
    return this.#f64[0];
  }
}

/** Parses a snapshot into a fresh keyspace; throws `Error("corrupt state snapshot: ...")`. */
export function decodeSnapshot(data: Uint8Array): Keyspace {
  if (!(data instanceof Uint8Array)) throw new Error("corrupt state snapshot: not bytes");
  if (data.length < MAGIC.length + 2 + 4) throw new Error("corrupt state snapshot: too short");
  for (let i = 0; i < MAGIC.length; i++) {
    if (data[i] !== MAGIC[i]) throw new Error("corrupt state snapshot: bad magic");
  }
  const format = data[4];
  if (format < OLDEST_VERSION || format > VERSION) {
    throw new Error(`corrupt state snapshot: unsupported version ${data[4]}`);
  }
  const end = data.length - 4;
  const want =
    ((data[end] << 24) | (data[end + 1] << 16) | (data[end + 2] << 8) | data[end + 3]) >>>
    0;
  if (crc32(data, end) !== want) throw new Error("corrupt state snapshot: checksum mismatch");
  const r = new Reader(data, end);
  r.pos = 5;
  const db = new Keyspace();
  const nkeys = r.count(5);
  // The key table's layout (version 3): positions below span, each a key or free.
  let span = nkeys;
  let free: number[] = [];
  if (format >= 3) {
    span = r.varint();
    const nfree = r.count(1);
    if (span !== nkeys + nfree) r.fail(`span ${span} is not ${nkeys} keys + ${nfree} free`);
    free = new Array(nfree);
    for (let i = 0; i < nfree; i++) free[i] = r.varint();
  }
  let last = -1;
  for (let i = 0; i < nkeys; i++) {
    let pos = i;
    if (format >= 3) {
      const tag = r.varint();
      pos = tag % 2 === 1 ? (tag - 1) / 2 : last + 1 + tag / 2;
      if (tag % 2 === 0) last = pos;
      if (pos >= span) r.fail(`key position ${pos} beyond span ${span}`);
    }
    const kind = r.byte();
    if (kind > Kind.ZSET) r.fail(`unknown type ${kind}`);
    const key = r.key();
    if (db.store.get(key) !== undefined) r.fail("duplicate key");
    const expireAt = r.varint();
    const createRev = r.varint();
    const modRev = r.varint();
    const version = format >= 2 ? r.varint() : 1;
    if (version < 1) r.fail("key version 0");
    let value: KeyEntry["value"];
    switch (kind) {
      case Kind.STRING:
        value = r.bytes();
        break;
      case Kind.LIST: {
        const d = new Deque();
        const n = r.count(1);
        if (n === 0) r.fail("empty list");
        for (let j = 0; j < n; j++) d.pushBack(r.bytes());
        value = d;
        break;
      }
      case Kind.SET: {
        const s = new Set<string>();
        const n = r.count(1);
        if (n === 0) r.fail("empty set");
        for (let j = 0; j < n; j++) s.add(r.key());
        if (s.size !== n) r.fail("duplicate set member");
        value = s;
        break;
      }
      case Kind.HASH: {
        const h = new Map<string, Uint8Array>();
        const n = r.count(2);
        if (n === 0) r.fail("empty hash");
        for (let j = 0; j < n; j++) h.set(r.key(), r.bytes());
        if (h.size !== n) r.fail("duplicate hash field");
        value = h;
        break;
      }
      default: {
        const z = new SortedSet();
        const n = r.count(9);
        if (n === 0) r.fail("empty sorted set");
        for (let j = 0; j < n; j++) {
          const m = r.key();
          const score = r.f64();
          if (Number.isNaN(score)) r.fail("NaN score");
          if (!z.set(m, score)) r.fail("duplicate sorted-set member");
        }
        value = z;
      }
    }
    const e = new KeyEntry(kind as KindTag, value, createRev);
    e.modRev = modRev;
    e.version = version;
    e.expireAt = expireAt;
    try {
      db.add(key, e, pos);
    } catch (err) {
      r.fail((err as Error).message); // two keys at one position
    }
  }
  try {
    db.store.restoreFree(span, free);
  } catch (err) {
    r.fail((err as Error).message);
  }
  if (r.pos < end && r.buf[r.pos] === LEASES_SECTION) decodeLeases(r, db);
  if (r.pos !== end) r.fail("trailing bytes");
  return db;
}

/** Reads the leases section into `db` (its keys are all in place already). */
function decodeLeases(r: Reader, db: Keyspace): void {
  r.pos++;
  const t = db.leases;
  const nextId = r.varint();
  if (nextId < 2) r.fail("bad next lease id");
  const n = r.count(5);
  if (n > MAX_LEASES) r.fail(`${n} leases (at most ${MAX_LEASES})`);
  let last = 0;
  for (let i = 0; i < n; i++) {
    const id = r.varint();
    if (id <= last || id >= nextId) r.fail("lease ids out of order");
    last = id;
    const ttl = r.varint();
    if (ttl < MIN_LEASE_TTL || ttl > MAX_LEASE_TTL) r.fail("lease ttl out of range");
    const l = new Lease(id, ttl, r.varint(), r.varint());
    t.map.set(id, l);
    const nk = r.count(1);
    for (let j = 0; j < nk; j++) {
      const k = r.key();
      const e = db.store.get(k);
      if (e === undefined) r.fail("lease key not in the snapshot");
      if (e.lease !== 0) r.fail("key on two leases");
      db.setLease(k, e, id);
    }
  }
  t.nextId = nextId;
}
