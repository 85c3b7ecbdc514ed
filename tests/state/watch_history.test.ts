/**
 * Watch history (#13 item 4): which events each applied entry produces, derived from the keys the
 * keyspace saw touched (put when the key's mod revision is the entry's, delete when it existed and
 * is gone, nothing for a touch that changed nothing; one flush event for FLUSHALL), the ring's
 * bounds (revisions and bytes, the newest revision kept whole), snapshot restores, and that two
 * replicas applying the same entries derive the same history.
 */
import { expect, test } from "bun:test";
import { createStateMachine } from "../../core/state/state_machine.ts";
import type { StateMachine } from "../../core/state/types.ts";
import {
  EventType,
  type HistoryEvent,
  keySelector,
  prefixEnd,
  prefixSelector,
  rangeSelector,
  selects,
  WatchHistory,
} from "../../core/state/watch_history.ts";

const enc = new TextEncoder();

class Replica {
  readonly sm: StateMachine = createStateMachine();
  readonly h: WatchHistory;
  index = 0;
  nowMs = 1_000;

  constructor(revisions = 1000, bytes = 1 << 20) {
    this.h = new WatchHistory({ revisions, bytes });
    this.sm.keepHistory!(this.h);
  }

  /** Applies one entry holding `cmds` (one revision). */
  entry(...cmds: string[][]): number {
    const ctx = { nowMs: this.nowMs, index: ++this.index };
    const out = { codes: [], data: [], errors: [] };
    for (const c of cmds) this.sm.apply(c.map((a) => enc.encode(a)), ctx, out);
    this.sm.commitHistory!(ctx.index);
    return ctx.index;
  }

  events(fromSeq = this.h.firstSeq): HistoryEvent[] {
    const out: HistoryEvent[] = [];
    for (let s = fromSeq; s < this.h.endSeq; s++) out.push(this.h.at(s));
    return out;
  }
}

const brief = (e: HistoryEvent) => [
  e.type === EventType.PUT ? "put" : e.type === EventType.DELETE ? "del" : "flush",
  e.key,
  e.value === null ? null : new TextDecoder().decode(e.value),
  e.rev,
];

test("puts, deletes, and touches that change nothing", () => {
  const r = new Replica();
  const r1 = r.entry(["SET", "a", "1"]);
  const r2 = r.entry(["SET", "a", "2"], ["SET", "b", "x"], ["APPEND", "a", "z"]);
  const r3 = r.entry(["SET", "a", "no", "NX"], ["LPUSH", "a", "wrongtype"], ["GET", "b"]);
  const r4 = r.entry(["DEL", "a"], ["DEL", "nothing"]);
  const r5 = r.entry(["SET", "c", "1"], ["DEL", "c"]); // born and gone in one revision
  const r6 = r.entry(["DEL", "b"], ["SET", "b", "again"]); // gone and back: a put
  const r7 = r.entry(["RPUSH", "l", "x"]);
  expect(r.events().map(brief)).toEqual([
    ["put", "a", "1", r1],
    ["put", "a", "2z", r2],
    ["put", "b", "x", r2],
    ["del", "a", null, r4],
    ["put", "b", "again", r6],
    ["put", "l", null, r7], // not a string: no value
  ]);
  void r3, r5;
  const puts = r.events().filter((e) => e.type === EventType.PUT && e.key === "a");
  expect(puts.map((e) => [e.createRev, e.modRev, e.version])).toEqual([[r1, r1, 1], [r1, r2, 2]]);
  const del = r.events().find((e) => e.type === EventType.DELETE)!;
  expect([del.createRev, del.modRev, del.version]).toEqual([0, r4, 0]);
  expect(r.h.rev).toBe(r7);
  expect(r.h.oldest).toBe(1);
});

test("an expiry reclaimed by a later write is a delete at that revision", () => {
  const r = new Replica();
  r.entry(["SET", "t", "v", "PX", "10"]);
  r.nowMs += 100;
  const at = r.entry(["SET", "other", "x"]); // the active sweep reclaims t
  expect(r.events().map(brief).slice(1)).toEqual([["put", "other", "x", at], [
    "del",
    "t",
    null,
    at,
  ]]);
  const at2 = r.entry(["PEXPIRE", "other", "100000"]);
  expect(brief(r.events().at(-1)!)).toEqual(["put", "other", "x", at2]);
});

test("FLUSHALL gives one flush event, not one per key", () => {
  const r = new Replica();
  r.entry(...Array.from({ length: 500 }, (_, i) => ["SET", `k${i}`, "v"]));
  const n = r.h.size;
  const f = r.entry(["FLUSHALL"], ["SET", "after", "1"]);
  expect(r.h.size).toBe(n + 1);
  expect(brief(r.events().at(-1)!)).toEqual(["flush", "", null, f]);
});

test("the ring keeps a window of revisions and bytes; the newest revision stays whole", () => {
  const r = new Replica(10, 1 << 20);
  for (let i = 0; i < 30; i++) r.entry(["SET", `k${i}`, "v"]);
  expect(r.h.rev).toBe(30);
  expect(r.h.oldest).toBe(21);
  expect(r.events().map((e) => e.rev)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  expect(r.h.seekRev(25) - r.h.firstSeq).toBe(4);
  expect(r.h.seekRev(99)).toBe(r.h.endSeq);

  const b = new Replica(1000, 4096);
  const big = "x".repeat(1000);
  for (let i = 0; i < 20; i++) b.entry(["SET", `k${i}`, big]);
  expect(b.h.bytes).toBeLessThanOrEqual(4096);
  expect(b.h.oldest).toBe(b.events()[0].rev);
  // One revision larger than the whole budget is still kept (it is the newest).
  b.entry(...Array.from({ length: 10 }, (_, i) => ["SET", `big${i}`, big]));
  expect(b.h.size).toBe(10);
  expect(b.h.oldest).toBe(b.h.rev);
});

test("with no history (0 revisions) the keyspace records nothing", () => {
  const r = new Replica(0);
  r.entry(["SET", "a", "1"]);
  expect(r.h.enabled).toBe(false);
  expect(r.h.recorder.size).toBe(0);
});

test("a snapshot restore starts the history after the snapshot; tracking continues", () => {
  const r = new Replica();
  r.entry(["SET", "a", "1"]);
  r.entry(["SET", "b", "1"]);
  const snap = r.sm.snapshot();
  const s = new Replica();
  s.sm.restore(snap);
  s.h.reset(2);
  s.index = 2;
  expect(s.h.oldest).toBe(3);
  const at = s.entry(["DEL", "a"]);
  expect(s.events().map(brief)).toEqual([["del", "a", null, at]]);
});

test("two replicas applying the same entries derive the same history", () => {
  const a = new Replica(50, 1 << 16);
  const b = new Replica(50, 1 << 16);
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  for (let i = 0; i < 300; i++) {
    const cmds: string[][] = [];
    for (let j = 0, m = 1 + rnd(4); j < m; j++) {
      const k = `k${rnd(20)}`;
      const op = rnd(5);
      cmds.push(
        op === 0
          ? ["DEL", k]
          : op === 1
          ? ["SET", k, `${i}`, "PX", `${1 + rnd(50)}`]
          : op === 2
          ? ["HSET", k, "f", "v"]
          : ["SET", k, `${i}.${j}`],
      );
    }
    a.nowMs = b.nowMs = 1000 + i * 5;
    a.entry(...cmds);
    b.entry(...cmds);
  }
  expect(a.events()).toEqual(b.events());
  expect(a.h.oldest).toBe(b.h.oldest);
});

test("selectors: key, prefix, range (byte order), and the prefix's end", () => {
  const e = (key: string) =>
    ({
      rev: 1,
      type: EventType.PUT,
      key,
      value: null,
      createRev: 1,
      modRev: 1,
      version: 1,
      prev: undefined,
    }) as const;
  expect(selects(keySelector("a"), e("a"))).toBe(true);
  expect(selects(keySelector("a"), e("ab"))).toBe(false);
  expect(selects(prefixSelector("ab"), e("abc"))).toBe(true);
  expect(selects(prefixSelector("ab"), e("ac"))).toBe(false);
  expect(selects(prefixSelector(""), e("anything"))).toBe(true);
  expect(prefixEnd("a\xff\xff")).toBe("b");
  expect(prefixEnd("\xff")).toBe(null);
  expect(selects(prefixSelector("\xff"), e("\xff\x01"))).toBe(true);
  expect(selects(rangeSelector("b", "d"), e("c"))).toBe(true);
  expect(selects(rangeSelector("b", "d"), e("d"))).toBe(false);
  expect(selects(rangeSelector("b", ""), e("zzz"))).toBe(true);
  expect(selects(rangeSelector("b", "d"), { ...e(""), type: EventType.FLUSH })).toBe(true);
});

test("events stay exact across the storage's chunks of 4,096: rollover, drops, reuse, reset", () => {
  // A model of what the history must hold: every event of the last `keep` revisions, computed
  // here from the commands (puts with values and previous states, deletes), compared with the
  // history event by event after each entry, while the ring rolls over many chunks.
  const keep = 700;
  const r = new Replica(keep, 1 << 30);
  type M = [string, string, string | null, number, number, number, number, string | null, number];
  const model: M[] = []; // brief + createRev, modRev, version, prev value, prev modRev
  const live = new Map<string, { v: string; c: number; m: number; ver: number }>();
  const dec = new TextDecoder();
  const show = (e: HistoryEvent): M =>
    [
      ...brief(e) as [string, string, string | null, number],
      e.createRev,
      e.modRev,
      e.version,
      e.prev?.value == null ? null : dec.decode(e.prev.value),
      e.prev?.modRev ?? -1,
    ] as unknown as M;
  let n = 0;
  for (let round = 0; round < 3200; round++) {
    // 7 commands per entry over 50 keys: overwrites, deletes and fresh keys mixed.
    const cmds: string[][] = [];
    for (let c = 0; c < 7; c++) {
      const k = `k${(n * 7919) % 50}`;
      cmds.push(n % 5 === 4 ? ["DEL", k] : ["SET", k, `v${n}`]);
      n++;
    }
    const rev = r.index + 1;
    const seen = new Set<string>();
    const before = new Map(live);
    for (const [op, k, v] of cmds) {
      if (op === "SET") {
        const o = live.get(k);
        live.set(
          k,
          o
            ? { v, c: o.c, m: rev, ver: o.m === rev ? o.ver : o.ver + 1 }
            : { v, c: rev, m: rev, ver: 1 },
        );
      } else live.delete(k);
    }
    for (const [, k] of cmds) {
      if (seen.has(k)) continue;
      seen.add(k);
      const now = live.get(k), was = before.get(k);
      if (now !== undefined && now.m === rev) {
        model.push(["put", k, now.v, rev, now.c, now.m, now.ver, was?.v ?? null, was?.m ?? -1]);
      } else if (now === undefined && was !== undefined) {
        model.push(["del", k, null, rev, 0, rev, 0, was.v, was.m]);
      }
    }
    r.entry(...cmds);
    while (model.length > 0 && model[0][3] < r.index - keep + 1) model.shift();
    if (round % 97 === 0 || round > 3190) expect(r.events().map(show)).toEqual(model);
  }
  expect(r.h.endSeq).toBeGreaterThan(4 * 4096);
  expect(r.h.size).toBe(model.length);
  expect(r.h.seekRev(r.index - 10)).toBe(
    r.h.endSeq - model.filter((m) => m[3] >= r.index - 10).length,
  );
  // Bytes: the documented count (64 + key + value, + 48 + previous value), summed over the ring.
  const counted = r.events().reduce((s, e) =>
    s + 64 + e.key.length + (e.value?.length ?? 0) +
    (e.prev === undefined ? 0 : 48 + (e.prev.value?.length ?? 0)), 0);
  expect(r.h.bytes).toBe(counted);
  // A restore starts afresh: sequence numbers go on, nothing before is held.
  const end = r.h.endSeq;
  r.h.reset(r.index);
  expect([r.h.firstSeq, r.h.endSeq, r.h.size, r.h.bytes]).toEqual([end, end, 0, 0]);
  r.entry(["SET", "after", "reset"]);
  expect(r.events().map(brief)).toEqual([["put", "after", "reset", r.index]]);
});

test("events keep their keys exactly: long keys past a chunk's key buffer, every byte value", () => {
  // A chunk keeps its events' keys as bytes in one buffer that grows: 4,096 events of 300-byte
  // keys are ~1.2 MB, far past its first size; the bytes 0..255 all survive.
  const r = new Replica(100_000, 1 << 30);
  const keyOf = (i: number) =>
    `${i}:` + String.fromCharCode(...Array.from({ length: 300 }, (_, j) => (i * 31 + j) & 0xff));
  const dec = new TextDecoder("latin1");
  for (let i = 0; i < 4200; i++) {
    const k = keyOf(i);
    r.sm.apply(
      [enc.encode("SET"), Uint8Array.from(k, (c) => c.charCodeAt(0)), enc.encode(`v${i}`)],
      { nowMs: r.nowMs, index: ++r.index },
      { codes: [], data: [], errors: [] },
    );
    r.sm.commitHistory!(r.index);
  }
  const evs = r.events();
  expect(evs.length).toBe(4200);
  for (let i = 0; i < 4200; i += 7) {
    expect(evs[i].key).toBe(keyOf(i));
    expect(dec.decode(evs[i].value!)).toBe(`v${i}`);
  }
  expect(evs[4199].key).toBe(keyOf(4199));
  // Counted bytes: 64 + key + value per event.
  expect(r.h.bytes).toBe(evs.reduce((n, e) => n + 64 + e.key.length + e.value!.length, 0));
});
