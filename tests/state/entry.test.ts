import { describe, expect, test } from "bun:test";
import { own } from "../../core/state/bytes.ts";
import { Deque } from "../../core/state/deque.ts";
import { KeyEntry, Keyspace, Kind } from "../../core/state/keyspace.ts";
import { decodeSnapshot, encodeSnapshot } from "../../core/state/snapshot.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function stringEntry(text: string, rev: number): KeyEntry {
  return new KeyEntry(Kind.STRING, own(enc.encode(text)), rev);
}

function fields(e: KeyEntry | undefined) {
  if (e === undefined) return undefined;
  return {
    kind: e.kind,
    value: e.kind === Kind.STRING ? dec.decode(e.value as Uint8Array) : e.value,
    expireAt: e.expireAt,
    createRev: e.createRev,
    modRev: e.modRev,
    version: e.version,
    lease: e.lease,
    byteLength: e.byteLength,
  };
}

describe("entries kept in the key table's pages (entry.ts)", () => {
  test("a detached entry's fields are what a lookup sees once it is added", () => {
    const db = new Keyspace();
    const e = stringEntry("hello", 7);
    e.expireAt = 1_900_000_000_123;
    e.bump(9);
    const before = fields(e);
    db.add("k", e);
    expect(fields(db.store.get("k"))).toEqual(before!);
    expect(before).toEqual({
      kind: Kind.STRING,
      value: "hello",
      expireAt: 1_900_000_000_123,
      createRev: 7,
      modRev: 9,
      version: 2,
      lease: 0,
      byteLength: 5,
    });
  });

  test("changes through one handle are seen by the next lookup (fields live in the table)", () => {
    const db = new Keyspace();
    db.add("k", stringEntry("a", 1));
    const h = db.store.get("k")!;
    h.value = own(enc.encode("bbb"));
    h.bump(5);
    h.kind = Kind.STRING;
    expect(fields(db.store.get("k"))).toMatchObject({ value: "bbb", modRev: 5, version: 2 });
    // From a string to a list and back: the value's storage follows.
    h.kind = Kind.LIST;
    const d = new Deque();
    d.pushBack(enc.encode("x"));
    h.value = d;
    expect(db.store.get("k")!.value).toBe(d);
    expect(db.store.get("k")!.byteLength).toBe(0);
    h.kind = Kind.STRING;
    h.value = own(enc.encode("back"));
    expect(fields(db.store.get("k"))!.value).toBe("back");
  });

  test("a removed entry keeps its fields and can be added back under another key", () => {
    const db = new Keyspace();
    db.add("src", stringEntry("payload", 3));
    const e = db.store.get("src")!;
    e.expireAt = 2_000_000_000_000;
    const before = fields(e);
    db.remove("src", e);
    // The freed position is reused by another key before the entry goes back in (RENAME-like).
    db.add("other", stringEntry("someone else", 4));
    expect(fields(e)).toEqual(before!);
    db.add("dst", e);
    expect(db.store.get("src")).toBeUndefined();
    expect(fields(db.store.get("dst"))).toEqual(before!);
    expect(fields(db.store.get("other"))!.value).toBe("someone else");
  });

  test("a freed position keeps no reference to its value", () => {
    const db = new Keyspace();
    const d = new Deque();
    d.pushBack(enc.encode("x"));
    db.add("l", new KeyEntry(Kind.LIST, d, 1));
    const pos = db.store.positionOf("l");
    db.remove("l", db.store.get("l")!);
    expect(db.store.entryAt(pos)).toBeUndefined();
    // The position is reused: the new key has its own value, not the list.
    db.add("s", stringEntry("v", 2));
    expect(db.store.positionOf("s")).toBe(pos);
    expect(db.store.get("s")!.kind).toBe(Kind.STRING);
  });

  test("a snapshot of many keys walks one reused handle and restores every field", () => {
    const db = new Keyspace();
    for (let i = 0; i < 5000; i++) {
      const e = stringEntry(`value-${i}`, i + 1);
      if (i % 3 === 0) e.expireAt = 1_900_000_000_000 + i;
      db.add(`key-${i}`, e);
      if (i % 7 === 0) db.store.get(`key-${i}`)!.bump(i + 10_000);
    }
    for (let i = 0; i < 5000; i += 11) db.remove(`key-${i}`, db.store.get(`key-${i}`)!);
    const back = decodeSnapshot(encodeSnapshot(db));
    expect(back.store.size).toBe(db.store.size);
    for (const [k, e] of db.store.entries()) expect(fields(back.store.get(k))).toEqual(fields(e)!);
  });
});

describe("own(): stored values", () => {
  test("a small value that owns its buffer is copied into a shared slab (no buffer per key)", () => {
    const a = enc.encode("x".repeat(64));
    const b = enc.encode("y".repeat(64));
    const oa = own(a);
    const ob = own(b);
    expect(oa.buffer).not.toBe(a.buffer);
    expect(oa.buffer).toBe(ob.buffer); // one slab for both
    expect(dec.decode(oa)).toBe("x".repeat(64));
    expect(dec.decode(ob)).toBe("y".repeat(64));
  });

  test("a large value that owns its buffer is kept; a large view is copied compactly", () => {
    const big = new Uint8Array(1000).fill(1);
    expect(own(big)).toBe(big);
    const whole = new Uint8Array(4000).fill(2);
    const view = whole.subarray(100, 1100);
    const o = own(view);
    expect(o.buffer).not.toBe(whole.buffer);
    expect(o.byteLength).toBe(1000);
    expect(o.buffer.byteLength).toBe(1000);
  });
});
