import { describe, expect, test } from "bun:test";
import { Kind } from "../../core/state/keyspace.ts";
import { decodeSnapshot } from "../../core/state/snapshot.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { type Arg, Harness, prng } from "./harness.ts";

function populate(h: Harness): void {
  h.ok("SET", "str", "value");
  h.ok("SET", "ttl", "v", "PX", "5000");
  h.ok("SET", "num", "-42");
  h.ok("RPUSH", "list", "a", "b", "c");
  h.ok("LPUSH", "list", "z");
  h.ok("SADD", "set", "m1", "m2", "m3");
  h.ok("HSET", "hash", "f1", "v1", "f2", "");
  h.ok("ZADD", "zset", "1.5", "a", "-inf", "b", "inf", "c", "0", "d");
  h.ok("EXPIRE", "hash", "100");
}

function crc32(b: Uint8Array): number {
  let c = -1;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ -1) >>> 0;
}

/** Replaces the body of a snapshot and fixes up its checksum (for structural corruption). */
function withBody(snap: Uint8Array, edit: (body: number[]) => void): Uint8Array {
  const body = [...snap.subarray(0, snap.length - 4)];
  edit(body);
  const crc = crc32(Uint8Array.from(body));
  return Uint8Array.from([...body, crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255]);
}

describe("snapshot / restore", () => {
  test("round trip of every type, TTLs and order", () => {
    const a = new Harness();
    populate(a);
    const snap = a.sm.snapshot();
    const b = new Harness(createStateMachine(), a.ctx.nowMs);
    b.sm.restore(snap);
    expect(b.sm.snapshot()).toEqual(snap);
    expect(b.sm.size()).toBe(a.sm.size());
    expect(b.ok("GET", "str")).toBe("value");
    expect(b.ok("PTTL", "ttl")).toBe(5000);
    expect(b.ok("TTL", "hash")).toBe(100);
    expect(b.ok("INCR", "num")).toBe(-41);
    expect(b.ok("LRANGE", "list", "0", "-1")).toEqual(["z", "a", "b", "c"]);
    expect(b.ok("SMEMBERS", "set")).toEqual(["m1", "m2", "m3"]);
    expect(b.ok("HGETALL", "hash")).toEqual(["f1", "v1", "f2", ""]);
    expect(b.ok("ZRANGE", "zset", "0", "-1", "WITHSCORES")).toEqual([
      "b",
      -Infinity,
      "d",
      0,
      "a",
      1.5,
      "c",
      Infinity,
    ]);
    b.advance(5000);
    b.nil("GET", "ttl");
  });

  test("empty state round trips", () => {
    const sm = createStateMachine();
    const snap = sm.snapshot();
    const sm2 = createStateMachine();
    sm2.restore(snap);
    expect(sm2.size()).toBe(0);
    expect(sm2.snapshot()).toEqual(snap);
  });

  test("per-key revisions come from ctx.index and survive snapshots", () => {
    const h = new Harness();
    h.ok("SET", "k", "1"); // index 1
    h.ok("SET", "k", "2"); // 2
    h.ok("GET", "k"); // 3, read: no change
    h.ok("EXPIRE", "k", "10"); // 4
    h.ok("RPUSH", "l", "a"); // 5
    h.ok("RPUSH", "l", "b"); // 6
    h.ok("DEL", "l"); // 7
    h.ok("RPUSH", "l", "c"); // 8
    h.ok("SADD", "s", "x"); // 9
    h.ok("SADD", "s", "x"); // 10, no change
    const db = decodeSnapshot(h.sm.snapshot());
    const rev = (k: string) => {
      const e = db.store.get(k)!;
      return [e.createRev, e.modRev];
    };
    expect(rev("k")).toEqual([1, 4]);
    expect(rev("l")).toEqual([8, 8]);
    expect(rev("s")).toEqual([9, 9]);
    expect(db.store.get("l")!.kind).toBe(Kind.LIST);
  });

  test("identical command/ctx sequences give identical snapshots (expiry included)", () => {
    const gen = (seed: number) => {
      const rnd = prng(seed);
      const cmds: { now: number; args: Arg[] }[] = [];
      let now = 1_000_000;
      const key = () => `k${Math.floor(rnd() * 40)}`;
      for (let i = 0; i < 5000; i++) {
        now += Math.floor(rnd() * 20);
        const r = rnd();
        let args: Arg[];
        if (r < 0.25) args = ["SET", key(), `v${i}`, "PX", String(1 + Math.floor(rnd() * 500))];
        else if (r < 0.35) args = ["SET", key(), `v${i}`];
        else if (r < 0.45) args = ["RPUSH", key(), `e${i}`];
        else if (r < 0.55) args = ["SADD", key(), `m${i % 7}`];
        else if (r < 0.65) args = ["HSET", key(), `f${i % 5}`, `v${i}`];
        else if (r < 0.75) args = ["ZADD", key(), String(i % 13), `m${i % 9}`];
        else if (r < 0.85) args = ["PEXPIRE", key(), String(Math.floor(rnd() * 300))];
        else if (r < 0.9) args = ["DEL", key()];
        else args = ["GET", key()];
        cmds.push({ now, args });
      }
      return cmds;
    };
    const cmds = gen(99);
    const a = new Harness();
    const b = new Harness();
    const repliesA: unknown[] = [];
    const repliesB: unknown[] = [];
    for (const c of cmds) {
      a.ctx.nowMs = c.now;
      b.ctx.nowMs = c.now;
      repliesA.push(a.run(...c.args));
      repliesB.push(b.run(...c.args));
    }
    expect(repliesB).toEqual(repliesA);
    expect(b.sm.snapshot()).toEqual(a.sm.snapshot());

    // A replica restored mid-way converges with one that applied everything.
    const c = new Harness();
    const d = new Harness();
    for (const [i, x] of cmds.entries()) {
      c.ctx.nowMs = x.now;
      c.run(...x.args);
      if (i === 2499) d.sm.restore(c.sm.snapshot());
      if (i >= 2500) {
        d.ctx.nowMs = x.now;
        d.ctx.index = c.ctx.index - 1;
        expect(d.run(...x.args)).toEqual(repliesA[i] as never);
      }
    }
    expect(d.sm.snapshot()).toEqual(c.sm.snapshot());
    expect(c.sm.snapshot()).toEqual(a.sm.snapshot());
  });

  test("corrupt input throws a clear error and leaves the state untouched", () => {
    const h = new Harness();
    populate(h);
    const snap = h.sm.snapshot();
    const target = new Harness();
    target.ok("SET", "keep", "me");
    const before = target.sm.snapshot();
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
      new TextEncoder().encode("definitely not a snapshot at all"),
      withBody(snap, (b) => (b[0] = 0x58)), // magic
      withBody(snap, (b) => (b[4] = 9)), // version
      withBody(snap, (b) => b.push(0)), // trailing bytes
      // Body (version 3): magic(4) version(1) count(1) span(1) free count(1 = 0), then the first
      // key's position tag(1) and type(1).
      withBody(snap, (b) => (b[9] = 7)), // unknown type of the first key
      withBody(snap, (b) => (b[5] = b[5] + 1)), // one key more than the span holds
      withBody(snap, (b) => (b[5] = b[5] + 1, b[6] = b[6] + 1)), // one key more than present
      withBody(snap, (b) => (b[6] = b[6] + 1)), // a position neither a key nor free
      withBody(snap, (b) => (b[8] = 2 * 9)), // the first key beyond the span
      withBody(snap, (b) => (b[5] = 200)), // absurd key count
    ];
    for (let cut = 1; cut < snap.length; cut += 3) bad.push(snap.subarray(0, cut));
    for (let i = 0; i < snap.length; i += 5) {
      const flipped = snap.slice();
      flipped[i] ^= 0x10;
      bad.push(flipped);
    }
    for (const data of bad) {
      expect(() => target.sm.restore(data)).toThrow(/corrupt state snapshot/);
      expect(target.sm.snapshot()).toEqual(before);
    }
    expect(() => target.sm.restore(null as unknown as Uint8Array)).toThrow(
      /corrupt state snapshot/,
    );
    expect(target.ok("GET", "keep")).toBe("me");
  });

  test("duplicate keys are rejected", () => {
    const h = new Harness();
    h.ok("SET", "a", "1");
    const snap = h.sm.snapshot();
    // Body: magic(4) version(1) count(1) span(1) free count(1) then one key record (position
    // tag first); duplicate the record (its tag 0 puts the copy at the next position).
    const dup = withBody(snap, (b) => {
      const rec = b.slice(8);
      b[5] = 2;
      b[6] = 2;
      b.push(...rec);
    });
    expect(() => h.sm.restore(dup)).toThrow(/duplicate key/);
  });

  test("the key table's layout is checked: positions, free positions, span", () => {
    const h = new Harness();
    for (const k of ["a", "b", "c"]) h.ok("SET", k, "v");
    h.run("DEL", "b"); // position 1 is free
    const snap = h.sm.snapshot();
    // Body: magic(4) version(1) count(1)=2 span(1)=3 free count(1)=1 free[0](1)=1, then the
    // records: "a" (tag 0: position 0), "c" (tag 2: gap 1, position 2).
    const body = Array.from(snap.subarray(0, snap.length - 4));
    expect(body.slice(5, 9)).toEqual([2, 3, 1, 1]);
    const bad: [string, (b: number[]) => void][] = [
      ["free position 0 holds a key", (b) => (b[8] = 0)],
      ["bad free position 5", (b) => (b[8] = 5)],
      ["two keys at position 0", (b) => (b[body.indexOf(99) - 3] = 1)], // "c"'s tag (before type, length) as 2 × 0 + 1
    ];
    for (const [why, edit] of bad) {
      expect(() => h.sm.restore(withBody(snap, edit))).toThrow(why);
    }
    // A restored replica keeps the positions and the free stack: the next new key takes the
    // freed position on both.
    const r = new Harness();
    r.sm.restore(snap);
    expect(r.sm.snapshot()).toEqual(snap);
    r.ctx.index = h.ctx.index;
    r.ctx.nowMs = h.ctx.nowMs;
    h.ok("SET", "d", "v");
    r.ok("SET", "d", "v");
    expect(r.sm.snapshot()).toEqual(h.sm.snapshot());
  });
});
