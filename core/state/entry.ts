/**
 * A key's entry (type, value, expiry, revisions, lease) and where the key table keeps it (#11).
 *
 * The fields of every stored key live in parallel typed arrays, a page of 65,536 positions at a
 * time ({@link EntryPage}), not in one JS object per key: with millions of keys, those objects
 * were half of everything V8's major GC had to mark (a full mark-compact of 4M keys: ~1.1 s, on
 * every replica at about the same moment) and ~130 bytes of heap per key. What is left per key is
 * the key string and a reference to the value's storage (a slab shared by many string values, or
 * the collection of a list, set, hash or sorted set).
 *
 * A {@link KeyEntry} is a small handle: attached to a position of a page (what the key table's
 * lookups return, made per lookup and dropped young), or detached, holding its own fields (a new
 * entry before it is added, or one just removed). The key table attaches an entry when it is
 * added (copying its fields in) and the keyspace detaches one when it is removed (copying them
 * out), so code that removes an entry and adds it back under another name (RENAME, MOVE) keeps
 * working. A handle is valid until its position is freed: hold it for one command, not longer.
 * @module
 */
import { copyInto } from "./bytes.ts";
import type { Deque } from "./deque.ts";
import type { SortedSet } from "./sorted_set.ts";

/** Data type tags (also the snapshot's type bytes: never renumber). */
export const Kind = { STRING: 0, LIST: 1, SET: 2, HASH: 3, ZSET: 4 } as const;
/** A data type tag. */
export type KindTag = (typeof Kind)[keyof typeof Kind];

/** The value held by a key, by kind. */
export type EntryValue = Uint8Array | Deque | Set<string> | Map<string, Uint8Array> | SortedSet;
/** A collection value (everything but a string's bytes). */
type Collection = Exclude<EntryValue, Uint8Array>;
/** What a position keeps of the value: a string's buffer (with offset and length beside it) or a collection. */
type Stored = ArrayBufferLike | Collection;

/** Float64 fields per position. */
const NF = 6;
const F_EXPIRE = 0;
const F_CREATE = 1;
const F_MOD = 2;
const F_VERSION = 3;
const F_LEASE = 4;
const F_WATCH = 5;
/** Uint32 fields per position: a string value's offset and length in its buffer, snapSeen. */
const NU = 3;
const U_OFF = 0;
const U_LEN = 1;
const U_SNAP = 2;
/** Flag beside the kind tag: the value is a string's bytes (buffer + offset + length). */
const BYTES = 0x80;
const KIND_MASK = 0x7;

const EMPTY = new ArrayBuffer(0);
const EMPTY_BYTES = new Uint8Array(EMPTY);

/** One page of entry fields: position `off` of the page at `f[off * 6 ..]`, `u[off * 3 ..]`, `k[off]`, `v[off]`. */
export class EntryPage {
  /** expireAt, createRev, modRev, version, lease, watchSeen. */
  readonly f: Float64Array;
  /** A string value's offset and length, snapSeen. */
  readonly u: Uint32Array;
  /** The kind tag, with {@link BYTES} set for a string value. */
  readonly k: Uint8Array;
  /** The value's buffer or collection; undefined at a free position (so it keeps nothing alive). */
  readonly v: (Stored | undefined)[];

  constructor(size: number) {
    this.f = new Float64Array(size * NF);
    this.u = new Uint32Array(size * NU);
    this.k = new Uint8Array(size);
    this.v = new Array<Stored | undefined>(size).fill(undefined); // fast elements (< 100,000)
  }
}

/** A detached entry's own fields. */
class Loose {
  kind: KindTag;
  v: Stored = EMPTY;
  bytes = false;
  off = 0;
  len = 0;
  expireAt = 0;
  createRev: number;
  modRev: number;
  version = 1;
  snapSeen = 0;
  lease = 0;
  watchSeen = 0;

  constructor(kind: KindTag, rev: number) {
    this.kind = kind;
    this.createRev = rev;
    this.modRev = rev;
  }
}

/** A view of the last buffer asked for (see {@link KeyEntry.copyBytes}). */
let lastBuf: ArrayBufferLike = EMPTY;
let lastView: Uint8Array = new Uint8Array(EMPTY);
function slabView(b: ArrayBufferLike): Uint8Array {
  if (b !== lastBuf) {
    lastBuf = b;
    lastView = new Uint8Array(b);
  }
  return lastView;
}

/**
 * One key's state, as a handle (see the module comment). Mutable in place; `value`'s runtime type
 * follows `kind`.
 */
export class KeyEntry {
  /** The page and offset of an attached entry (null: detached, fields in {@link #d}). */
  #p: EntryPage | null = null;
  #o = 0;
  #d: Loose | null;

  /**
   * A new detached entry; with `page`, a handle to position `off` of it instead (the key table's
   * lookups; `kind`, `value` and `rev` are then ignored).
   */
  constructor(
    kind: KindTag,
    value: EntryValue,
    rev: number,
    page: EntryPage | null = null,
    off = 0,
  ) {
    if (page !== null) {
      this.#d = null;
      this.#p = page;
      this.#o = off;
      return;
    }
    this.#d = new Loose(kind, rev);
    this.value = value;
  }

  /** A handle to position `off` of `page` (the key table's lookups). */
  static at(page: EntryPage, off: number): KeyEntry {
    return new KeyEntry(Kind.STRING, EMPTY_BYTES, 0, page, off);
  }

  /** Points the handle `e` (one made by {@link at}) at another position: a walk reuses one handle. */
  static point(e: KeyEntry, page: EntryPage, off: number): KeyEntry {
    e.#d = null;
    e.#p = page;
    e.#o = off;
    return e;
  }

  /** Stores `e`'s fields at position `off` of `page` and attaches `e` there. */
  static attach(e: KeyEntry, page: EntryPage, off: number): void {
    const kind = e.kind, expireAt = e.expireAt, createRev = e.createRev, modRev = e.modRev;
    const version = e.version, lease = e.lease, watchSeen = e.watchSeen, snapSeen = e.snapSeen;
    const d = e.#d;
    const sp = e.#p;
    let v: Stored, bytes: boolean, voff: number, vlen: number;
    if (d !== null) {
      v = d.v;
      bytes = d.bytes;
      voff = d.off;
      vlen = d.len;
    } else {
      const so = e.#o;
      v = sp!.v[so]!;
      bytes = (sp!.k[so] & BYTES) !== 0;
      voff = sp!.u[so * NU + U_OFF];
      vlen = sp!.u[so * NU + U_LEN];
    }
    const f = page.f, fo = off * NF, u = page.u, uo = off * NU;
    f[fo + F_EXPIRE] = expireAt;
    f[fo + F_CREATE] = createRev;
    f[fo + F_MOD] = modRev;
    f[fo + F_VERSION] = version;
    f[fo + F_LEASE] = lease;
    f[fo + F_WATCH] = watchSeen;
    u[uo + U_OFF] = voff;
    u[uo + U_LEN] = vlen;
    u[uo + U_SNAP] = snapSeen;
    page.k[off] = bytes ? kind | BYTES : kind;
    page.v[off] = v;
    e.#d = null;
    e.#p = page;
    e.#o = off;
  }

  /**
   * Stores a new string key's fields at position `off` of `page` — what {@link attach} of a new
   * detached entry holding `vlen` bytes of `buf` at `voff`, created at `rev`, would store, with no
   * handle made (the common SET of a new key, #11).
   */
  static putString(
    page: EntryPage,
    off: number,
    buf: ArrayBufferLike,
    voff: number,
    vlen: number,
    rev: number,
    snapSeen: number,
  ): void {
    const f = page.f, fo = off * NF, u = page.u, uo = off * NU;
    f[fo + F_EXPIRE] = 0;
    f[fo + F_CREATE] = rev;
    f[fo + F_MOD] = rev;
    f[fo + F_VERSION] = 1;
    f[fo + F_LEASE] = 0;
    f[fo + F_WATCH] = 0;
    u[uo + U_OFF] = voff;
    u[uo + U_LEN] = vlen;
    u[uo + U_SNAP] = snapSeen;
    page.k[off] = Kind.STRING | BYTES;
    page.v[off] = buf;
  }

  /** Copies an attached entry's fields into the handle itself: it outlives its position. */
  static detach(e: KeyEntry): void {
    const p = e.#p;
    if (p === null) return;
    const o = e.#o;
    const f = p.f, fo = o * NF, u = p.u, uo = o * NU;
    const d = new Loose((p.k[o] & KIND_MASK) as KindTag, f[fo + F_CREATE]);
    d.v = p.v[o]!;
    d.bytes = (p.k[o] & BYTES) !== 0;
    d.off = u[uo + U_OFF];
    d.len = u[uo + U_LEN];
    d.expireAt = f[fo + F_EXPIRE];
    d.modRev = f[fo + F_MOD];
    d.version = f[fo + F_VERSION];
    d.lease = f[fo + F_LEASE];
    d.watchSeen = f[fo + F_WATCH];
    d.snapSeen = u[uo + U_SNAP];
    e.#d = d;
    e.#p = null;
  }

  /** Data type tag. */
  get kind(): KindTag {
    const d = this.#d;
    return d !== null ? d.kind : (this.#p!.k[this.#o] & KIND_MASK) as KindTag;
  }

  set kind(x: KindTag) {
    const d = this.#d;
    if (d !== null) d.kind = x;
    else {
      const k = this.#p!.k;
      k[this.#o] = (k[this.#o] & BYTES) | x;
    }
  }

  /**
   * The value: a string's bytes (a fresh view each read: string values are never changed in
   * place, so a view stays valid for as long as it is held) or the collection object. A string's
   * bytes are kept as (buffer, offset, length), not as a `Uint8Array`: a view is a JS object of
   * ~64 bytes that the major GC would walk for every key; the buffer is shared (a slab of many
   * values, see `bytes.ts`).
   */
  get value(): EntryValue {
    const d = this.#d;
    if (d !== null) {
      return d.bytes ? new Uint8Array(d.v as ArrayBufferLike, d.off, d.len) : d.v as Collection;
    }
    const p = this.#p!, o = this.#o;
    if ((p.k[o] & BYTES) === 0) return p.v[o] as Collection;
    return new Uint8Array(p.v[o] as ArrayBufferLike, p.u[o * NU + U_OFF], p.u[o * NU + U_LEN]);
  }

  set value(x: EntryValue) {
    const d = this.#d;
    const bytes = x instanceof Uint8Array;
    if (d !== null) {
      if (bytes) {
        d.v = x.buffer;
        d.off = x.byteOffset;
        d.len = x.byteLength;
      } else d.v = x;
      d.bytes = bytes;
      return;
    }
    const p = this.#p!, o = this.#o;
    if (bytes) {
      p.v[o] = x.buffer;
      p.u[o * NU + U_OFF] = x.byteOffset;
      p.u[o * NU + U_LEN] = x.byteLength;
      p.k[o] |= BYTES;
    } else {
      p.v[o] = x;
      p.k[o] &= ~BYTES;
    }
  }

  /**
   * Makes the entry a string holding `len` bytes of `buf` at `off` (what setting `kind` to STRING
   * and `value` to a view of them does, without the view).
   */
  setBytes(buf: ArrayBufferLike, off: number, len: number): void {
    const d = this.#d;
    if (d !== null) {
      d.kind = Kind.STRING;
      d.v = buf;
      d.off = off;
      d.len = len;
      d.bytes = true;
      return;
    }
    const p = this.#p!, o = this.#o;
    p.v[o] = buf;
    p.u[o * NU + U_OFF] = off;
    p.u[o * NU + U_LEN] = len;
    p.k[o] = Kind.STRING | BYTES;
  }

  /**
   * Copies a string value's bytes into `dst` at `at` without making a view per call (the snapshot
   * encoder writes millions; keys written one after another mostly share a slab, whose one view
   * is reused).
   */
  copyBytes(dst: Uint8Array, at: number): void {
    const d = this.#d;
    if (d !== null) {
      copyInto(dst, at, slabView(d.v as ArrayBufferLike), d.off, d.len);
      return;
    }
    const p = this.#p!, o = this.#o;
    copyInto(
      dst,
      at,
      slabView(p.v[o] as ArrayBufferLike),
      p.u[o * NU + U_OFF],
      p.u[o * NU + U_LEN],
    );
  }

  /** Bytes of a string value (0 for collections), without making a view. */
  get byteLength(): number {
    const d = this.#d;
    if (d !== null) return d.bytes ? d.len : 0;
    const p = this.#p!, o = this.#o;
    return (p.k[o] & BYTES) !== 0 ? p.u[o * NU + U_LEN] : 0;
  }

  /**
   * A string value's buffer (with {@link valueOffset} and {@link byteLength}), or null for a
   * collection: what keeps a reference to the bytes without making a view (the watch history).
   */
  get valueBuffer(): ArrayBufferLike | null {
    const d = this.#d;
    if (d !== null) return d.bytes ? d.v as ArrayBufferLike : null;
    const p = this.#p!, o = this.#o;
    return (p.k[o] & BYTES) !== 0 ? p.v[o] as ArrayBufferLike : null;
  }

  /** A string value's offset in {@link valueBuffer} (0 for collections). */
  get valueOffset(): number {
    const d = this.#d;
    if (d !== null) return d.bytes ? d.off : 0;
    const p = this.#p!, o = this.#o;
    return (p.k[o] & BYTES) !== 0 ? p.u[o * NU + U_OFF] : 0;
  }

  #getF(i: number): number {
    return this.#p!.f[this.#o * NF + i];
  }

  #setF(i: number, x: number): void {
    this.#p!.f[this.#o * NF + i] = x;
  }

  /** Absolute expiry time in ms (leader clock), 0 = no expiry. */
  get expireAt(): number {
    const d = this.#d;
    return d !== null ? d.expireAt : this.#getF(F_EXPIRE);
  }

  set expireAt(x: number) {
    const d = this.#d;
    if (d !== null) d.expireAt = x;
    else this.#setF(F_EXPIRE, x);
  }

  /** Log index of the write that created the key (etcd's create_revision). */
  get createRev(): number {
    const d = this.#d;
    return d !== null ? d.createRev : this.#getF(F_CREATE);
  }

  set createRev(x: number) {
    const d = this.#d;
    if (d !== null) d.createRev = x;
    else this.#setF(F_CREATE, x);
  }

  /** Log index of the last write that changed the key's value or expiry (mod_revision). */
  get modRev(): number {
    const d = this.#d;
    return d !== null ? d.modRev : this.#getF(F_MOD);
  }

  set modRev(x: number) {
    const d = this.#d;
    if (d !== null) d.modRev = x;
    else this.#setF(F_MOD, x);
  }

  /**
   * How many revisions changed the key since it was created (etcd's version): 1 at creation,
   * +1 for each later log entry that changes its value or expiry (several changes made by one
   * entry count once, as they share one revision).
   */
  get version(): number {
    const d = this.#d;
    return d !== null ? d.version : this.#getF(F_VERSION);
  }

  set version(x: number) {
    const d = this.#d;
    if (d !== null) d.version = x;
    else this.#setF(F_VERSION, x);
  }

  /** The lease the key is attached to, 0 = none (see `leases.ts`; set through `Keyspace.setLease`). */
  get lease(): number {
    const d = this.#d;
    return d !== null ? d.lease : this.#getF(F_LEASE);
  }

  set lease(x: number) {
    const d = this.#d;
    if (d !== null) d.lease = x;
    else this.#setF(F_LEASE, x);
  }

  /** The last revision whose watch event this entry gave (watch_history.ts; not persisted). */
  get watchSeen(): number {
    const d = this.#d;
    return d !== null ? d.watchSeen : this.#getF(F_WATCH);
  }

  set watchSeen(x: number) {
    const d = this.#d;
    if (d !== null) d.watchSeen = x;
    else this.#setF(F_WATCH, x);
  }

  /** The snapshot generation that already holds this entry (see `Keyspace.beginSnapshot`). */
  get snapSeen(): number {
    const d = this.#d;
    return d !== null ? d.snapSeen : this.#p!.u[this.#o * NU + U_SNAP];
  }

  set snapSeen(x: number) {
    const d = this.#d;
    if (d !== null) d.snapSeen = x;
    else this.#p!.u[this.#o * NU + U_SNAP] = x;
  }

  /** Records a change made by the entry at log index `rev` (mod revision and version). */
  bump(rev: number): void {
    if (this.modRev === rev) return;
    this.modRev = rev;
    this.version = this.version + 1;
  }
}
