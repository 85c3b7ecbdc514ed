/**
 * Same-key and remove/re-add command sequences, after #11 made `KeyEntry` a handle to a position
 * of the key table (core/state/entry.ts): a key that is removed and a key added at its freed
 * position, RENAME/SMOVE/LMOVE/COPY/*STORE with the same key as source and destination, etc.
 * The expected replies are Redis 7's (and what the state machine answered when every key had an
 * entry object of its own, 87fa94e): a differential fuzz of that code against this one found no
 * difference over ~3.4M commands; these are the sequences it exercised most pointedly.
 */
import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import type { StateMachine, Value } from "../../core/state/types.ts";
import { WatchHistory } from "../../core/state/watch_history.ts";

const enc = new TextEncoder();
const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

/** Bulk bytes as strings (one char per byte), arrays recursively. */
function show(v: Value): unknown {
  if (v instanceof Uint8Array) return String.fromCharCode(...v);
  if (Array.isArray(v)) return v.map(show);
  return v;
}

/** A state machine with the log index and leader clock under the test's control. */
class M {
  readonly sm: StateMachine;
  readonly ctx = { nowMs: 1_000_000, index: 0 };

  constructor(sm: StateMachine = createStateMachine()) {
    this.sm = sm;
  }

  /** Applies `cmds` as one log entry (one index); a reply each (errors as "ERR <code> <text>"). */
  entry(...cmds: (string | Uint8Array)[][]): unknown[] {
    this.ctx.index++;
    const out = { codes: [] as number[], data: [] as Value[], errors: [] as (string | null)[] };
    for (const c of cmds) {
      this.sm.apply(c.map((a) => typeof a === "string" ? enc.encode(a) : a), this.ctx, out);
    }
    this.sm.commitHistory?.(this.ctx.index);
    expect(out.codes.length).toBe(cmds.length);
    return out.codes.map((code, i) =>
      code === Code.OK || code === Code.NOT_FOUND
        ? show(out.data[i])
        : `ERR ${code} ${out.errors[i]}`
    );
  }

  /** One command as its own log entry. */
  run(...args: (string | Uint8Array)[]): unknown {
    return this.entry(args)[0];
  }

  /** Runs each command as its own entry and returns the replies. */
  all(...cmds: string[][]): unknown[] {
    return cmds.map((c) => this.run(...c));
  }
}

const members = (v: unknown) => [...(v as string[])].sort();

describe("same key as source and destination", () => {
  test("RENAME k k and RENAMENX k k change nothing (value, TTL, revisions)", () => {
    const m = new M();
    expect(m.all(
      ["SET", "k", "v"], // 1
      ["EXPIRE", "k", "100"], // 2
      ["RENAME", "k", "k"],
      ["RENAMENX", "k", "k"],
      ["GET", "k"],
      ["TTL", "k"],
      ["GETREV", "k"],
      ["RENAME", "nokey", "nokey"],
    )).toEqual(["OK", 1, "OK", 0, "v", 100, ["v", 1, 2, 2], `ERR ${Code.SYNTAX} no such key`]);
  });

  test("SMOVE k k m: 1 when m is a member, the set unchanged; WRONGTYPE and 0 as in Redis", () => {
    const m = new M();
    expect(m.all(
      ["SADD", "k", "m1"],
      ["SMOVE", "k", "k", "m1"], // the only member: the set must not be emptied
      ["SMEMBERS", "k"],
      ["SMOVE", "k", "k", "nope"],
      ["SADD", "k", "m2"],
      ["SMOVE", "k", "k", "m2"],
      ["SCARD", "k"],
      ["SET", "s", "str"],
      ["SMOVE", "s", "s", "m"],
      ["SMOVE", "none", "none", "m"],
      ["DBSIZE"],
    )).toEqual([1, 1, ["m1"], 0, 1, 1, 2, "OK", `ERR ${Code.WRONG_TYPE} ${WRONGTYPE}`, 0, 2]);
  });

  test("LMOVE k k / RPOPLPUSH k k rotate; a one-element list survives it", () => {
    const m = new M();
    expect(m.all(
      ["RPUSH", "k", "1", "2", "3"],
      ["LMOVE", "k", "k", "LEFT", "RIGHT"],
      ["LRANGE", "k", "0", "-1"],
      ["RPOPLPUSH", "k", "k"],
      ["LRANGE", "k", "0", "-1"],
      ["LMOVE", "k", "k", "RIGHT", "RIGHT"],
      ["LRANGE", "k", "0", "-1"],
      ["RPUSH", "s", "x"], // 8
      ["LMOVE", "s", "s", "LEFT", "LEFT"], // 9: a change (its revision), though the list is as it was
      ["LRANGE", "s", "0", "-1"],
      ["WATCHREV", "s"],
    )).toEqual([
      3,
      "1",
      ["2", "3", "1"],
      "1",
      ["1", "2", "3"],
      "3",
      ["1", "2", "3"],
      1,
      "x",
      ["x"],
      [9],
    ]);
  });

  test("COPY k k is refused; COPY ... REPLACE over another type gives an independent value", () => {
    const m = new M();
    expect(m.all(
      ["SET", "a", "1"],
      ["COPY", "a", "a"],
      ["COPY", "a", "b"],
      ["COPY", "a", "b"],
      ["RPUSH", "l", "x"],
      ["COPY", "l", "b", "REPLACE"],
      ["TYPE", "b"],
      ["RPUSH", "b", "y"],
      ["LRANGE", "l", "0", "-1"],
      ["LRANGE", "b", "0", "-1"],
      ["COPY", "nokey", "b", "REPLACE"],
      ["LLEN", "b"],
    )).toEqual([
      "OK",
      `ERR ${Code.SYNTAX} source and destination objects are the same`,
      1,
      0,
      1,
      1,
      "list",
      2,
      ["x"],
      ["x", "y"],
      0,
      2,
    ]);
  });

  test("ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE with the destination among the inputs", () => {
    const m = new M();
    expect(m.all(
      ["ZADD", "k", "1", "a", "2", "b"],
      ["ZUNIONSTORE", "k", "1", "k"],
      ["ZRANGE", "k", "0", "-1", "WITHSCORES"],
      ["ZUNIONSTORE", "k", "2", "k", "k"],
      ["ZRANGE", "k", "0", "-1", "WITHSCORES"],
      ["ZINTERSTORE", "k", "2", "k", "nokey"], // empty result: k is deleted
      ["EXISTS", "k"],
      ["ZADD", "k", "1", "a", "2", "b", "3", "c"],
      ["ZRANGESTORE", "k", "k", "1", "-1"],
      ["ZRANGE", "k", "0", "-1"],
      ["ZRANGESTORE", "k", "k", "5", "10"],
      ["EXISTS", "k"],
      ["ZADD", "k", "1", "a"],
      ["ZDIFFSTORE", "k", "1", "k"],
      ["ZRANGE", "k", "0", "-1"],
      ["ZDIFFSTORE", "k", "2", "k", "k"],
      ["EXISTS", "k"],
    )).toEqual([
      2,
      2,
      ["a", 1, "b", 2],
      2,
      ["a", 2, "b", 4],
      0,
      0,
      3,
      2,
      ["b", "c"],
      0,
      0,
      1,
      1,
      ["a"],
      0,
      0,
    ]);
  });

  test("SINTERSTORE/SUNIONSTORE/SDIFFSTORE with the destination among the inputs", () => {
    const m = new M();
    const r = m.all(
      ["SADD", "k", "a", "b"],
      ["SINTERSTORE", "k", "k"],
      ["SMEMBERS", "k"],
      ["SADD", "j", "c"],
      ["SUNIONSTORE", "k", "k", "j"],
      ["SMEMBERS", "k"],
      ["SDIFFSTORE", "k", "k", "k"],
      ["EXISTS", "k"],
      ["SINTERSTORE", "j", "j", "nokey"],
      ["EXISTS", "j"],
      ["DBSIZE"],
    );
    expect([r[0], r[1], members(r[2]), r[3], r[4], members(r[5]), ...r.slice(6)]).toEqual([
      2,
      2,
      ["a", "b"],
      1,
      3,
      ["a", "b", "c"],
      0,
      0,
      0,
      0,
      0,
    ]);
  });
});

describe("a key removed and a key added at its freed position", () => {
  test("RENAME onto an existing key, then a new key reuses a freed position", () => {
    const m = new M();
    expect(m.all(
      ["SET", "a", "1"], // 1
      ["SET", "b", "2"], // 2
      ["RENAME", "a", "b"], // 3: frees a's and b's positions, b is added back at one of them
      ["SET", "c", "3"], // 4: takes the other
      ["GET", "b"],
      ["GET", "c"],
      ["EXISTS", "a"],
      ["GETREV", "b"],
      ["RENAME", "b", "a"], // 9
      ["GETREV", "a"],
      ["GETREV", "c"],
      ["KEYS", "*"],
    )).toEqual(["OK", "OK", "OK", "OK", "1", "3", 0, ["1", 3, 3, 1], "OK", ["1", 9, 9, 1], [
      "3",
      4,
      4,
      1,
    ], ["a", "c"]]);
  });

  test("RENAME carries the TTL and the lease; COPY the TTL only; LEASE REVOKE then reuse", () => {
    const m = new M();
    expect(m.all(
      ["LEASE", "GRANT", "10"],
      ["SET", "a", "v", "LEASE", "1"],
      ["PEXPIRE", "a", "5000"],
      ["RENAME", "a", "b"],
      ["PTTL", "b"],
      ["LEASE", "TTL", "1", "KEYS"],
      ["COPY", "b", "c"],
      ["PTTL", "c"],
      ["LEASE", "TTL", "1", "KEYS"],
      ["LEASE", "REVOKE", "1"],
      ["EXISTS", "b", "c"],
      ["SET", "d", "x"],
      ["GET", "c"],
      ["GET", "d"],
    )).toEqual([
      1,
      "OK",
      1,
      "OK",
      5000,
      [10, 10, ["b"]],
      1,
      5000,
      [10, 10, ["b"]],
      1,
      1,
      "OK",
      "v",
      "x",
    ]);
  });

  test("SMOVE empties the source; the destination is created; a later key reuses the position", () => {
    const m = new M();
    const r = m.all(
      ["SADD", "a", "m"],
      ["SADD", "b", "x"],
      ["SMOVE", "a", "b", "m"], // a emptied and removed, b exists
      ["EXISTS", "a"],
      ["SMEMBERS", "b"],
      ["SADD", "c", "m"], // 6
      ["SMOVE", "c", "d", "m"], // 7: c removed, d created
      ["EXISTS", "c"],
      ["SADD", "e", "z"],
      ["SMEMBERS", "d"],
      ["SMEMBERS", "e"],
      ["WATCHREV", "c", "d", "e"],
    );
    expect([...r.slice(0, 4), members(r[4]), ...r.slice(5)]).toEqual([
      1,
      1,
      1,
      0,
      ["m", "x"],
      1,
      1,
      0,
      1,
      ["m"],
      ["z"],
      [0, 7, 9],
    ]);
  });

  test("LMOVE / LMPOP empty the source list into a new destination", () => {
    const m = new M();
    expect(m.all(
      ["RPUSH", "a", "x"],
      ["LMOVE", "a", "b", "LEFT", "LEFT"], // b added while a still holds its position
      ["EXISTS", "a"],
      ["RPUSH", "c", "y"],
      ["LRANGE", "b", "0", "-1"],
      ["LRANGE", "c", "0", "-1"],
      ["LMPOP", "2", "a", "b", "LEFT", "COUNT", "5"],
      ["EXISTS", "b"],
      ["RPOPLPUSH", "c", "c2"],
      ["KEYS", "*"],
    )).toEqual([1, "x", 0, 1, ["x"], ["y"], ["b", ["x"]], 0, "y", ["c2"]]);
  });

  test("GETDEL, GETSET, SET GET KEEPTTL / NX / XX around a removal", () => {
    const m = new M();
    expect(m.all(
      ["SET", "k", "v", "EX", "100"],
      ["GETSET", "k", "w"],
      ["TTL", "k"],
      ["SET", "k", "x", "EX", "50"],
      ["SET", "k", "y", "GET", "KEEPTTL"],
      ["TTL", "k"],
      ["GETDEL", "k"],
      ["GETDEL", "k"],
      ["SET", "k", "z", "NX", "GET"],
      ["GET", "k"],
      ["SET", "k", "q", "XX", "GET"],
      ["GET", "k"],
      ["TTL", "k"],
    )).toEqual(["OK", "v", -1, "OK", "x", 50, "y", null, null, "z", "z", "q", -1]);
  });

  test("SET ... PXAT in the past sets and removes at once; the next key takes the position", () => {
    const m = new M();
    expect(m.all(
      ["SET", "k", "v"],
      ["SET", "k", "w", "PXAT", "1", "GET"],
      ["EXISTS", "k"],
      ["SET", "j", "x"],
      ["GET", "j"],
      ["DBSIZE"],
    )).toEqual(["OK", "v", 0, "OK", "x", 1]);
  });

  test("MSET with a repeated key: the last value wins, one revision per entry", () => {
    const m = new M();
    expect(m.all(
      ["MSET", "a", "1", "a", "2", "b", "3", "a", "4"], // 1
      ["MGET", "a", "b"],
      ["GETREV", "a"],
      ["MSET", "a", "5", "a", "6"], // 4
      ["GETREV", "a"],
    )).toEqual(["OK", ["4", "3"], ["4", 1, 1, 1], "OK", ["6", 1, 4, 2]]);
  });

  test("EXPIRE NX/XX/GT/LT, PERSIST, EXPIRE 0 deletes", () => {
    const m = new M();
    expect(m.all(
      ["SET", "k", "v"],
      ["EXPIRE", "k", "100", "NX"],
      ["EXPIRE", "k", "200", "NX"],
      ["EXPIRE", "k", "50", "GT"],
      ["EXPIRE", "k", "200", "GT"],
      ["EXPIRE", "k", "300", "LT"],
      ["EXPIRE", "k", "10", "LT"],
      ["TTL", "k"],
      ["PERSIST", "k"],
      ["EXPIRE", "k", "10", "XX"],
      ["EXPIRE", "k", "0"],
      ["EXISTS", "k"],
      ["PEXPIRE", "nokey", "10"],
      ["SET", "k2", "v2"],
      ["GET", "k2"],
    )).toEqual(["OK", 1, 0, 0, 1, 0, 1, 10, 1, 0, 1, 0, 0, "OK", "v2"]);
  });

  test("a key emptied in every type and re-created as another type at once", () => {
    const m = new M();
    expect(m.all(
      ["LPUSH", "k", "a"],
      ["RPOP", "k"],
      ["EXISTS", "k"],
      ["HSET", "k", "f", "v"],
      ["TYPE", "k"],
      ["HDEL", "k", "f"],
      ["ZADD", "k", "1", "m"],
      ["ZREM", "k", "m"],
      ["SADD", "k", "x"],
      ["SPOP", "k"],
      ["EXISTS", "k"],
      ["INCR", "k"],
      ["APPEND", "k", "0"],
      ["SETRANGE", "k", "1", "5"],
      ["GET", "k"],
      ["GETREV", "k"],
      ["DBSIZE"],
    )).toEqual([1, "a", 0, 1, "hash", 1, 1, 1, 1, "x", 0, 1, 2, 2, "15", ["15", 12, 14, 3], 1]);
  });

  test("several commands in one entry: an expired key reclaimed, another takes its position", () => {
    const m = new M();
    m.all(["SET", "a", "1", "PX", "100"], ["SET", "b", "2"]);
    m.ctx.nowMs += 200;
    expect(m.entry(
      ["GET", "a"],
      ["SET", "c", "3"], // a write: the sweep reclaims a
      ["SET", "a", "new"], // a again, at a freed position
      ["GET", "b"],
      ["DEL", "c"],
      ["SET", "d", "4"],
    )).toEqual([null, "OK", "OK", "2", 1, "OK"]);
    expect(m.all(["KEYS", "*"], ["GETREV", "a"], ["GETREV", "d"], ["DBSIZE"])).toEqual([
      ["a", "b", "d"],
      ["new", 3, 3, 1],
      ["4", 3, 3, 1],
      3,
    ]);
  });

  test("KVATOMIC: SET then DEL of one key, SET then SUM (the overlay) in one command", () => {
    const m = new M();
    const u64 = (n: number) => new Uint8Array([0, 0, 0, 0, 0, 0, 0, n]);
    const kvU64 = (n: number) => new Uint8Array([0xd9, 0x4b, 0x56, 0x48, 0, 0, 0, 0, 0, 0, 0, n]);
    expect(m.run("KVATOMIC", "0", "SET", "k", "v", "0", "DEL", "k")).toBe(1);
    expect(m.run("EXISTS", "k")).toBe(0);
    expect(m.run("KVATOMIC", "0", "SET", "k", kvU64(1), "0", "SUM", "k", u64(2))).toBe(3);
    expect(m.run("GET", "k")).toBe(String.fromCharCode(...kvU64(3)));
    expect(m.run("KVATOMIC", "0", "SET", "k", "v", "0", "SUM", "k", u64(2))).toBe(
      `ERR ${Code.WRONG_TYPE} Failed to perform 'sum' mutation on a non-U64 value in the database`,
    ); // 5: nothing applied
    expect(m.run("GET", "k")).toBe(String.fromCharCode(...kvU64(3)));
    expect(m.run("KVATOMIC", "1", "k", "3", "DEL", "k", "SET", "j", "w", "0")).toBe(7);
    expect(m.all(["EXISTS", "k"], ["GET", "j"], ["GETREV", "j"])).toEqual([0, "w", ["w", 7, 7, 1]]);
  });

  test("FLUSHALL then new keys: positions start again (SCAN order)", () => {
    const m = new M();
    expect(m.all(
      ["SET", "a", "1"],
      ["SET", "b", "2"],
      ["SET", "c", "3"],
      ["DEL", "a"],
      ["FLUSHALL"],
      ["SET", "c", "3"],
      ["SET", "b", "2"],
      ["SCAN", "0"],
      ["DEL", "c", "b"],
      ["SET", "z", "9"],
      ["SCAN", "0"],
    )).toEqual(["OK", "OK", "OK", 1, "OK", "OK", "OK", ["0", ["c", "b"]], 2, "OK", ["0", ["z"]]]);
  });
});

describe("snapshots and the watch history across removals and position reuse", () => {
  test("an incremental snapshot is the state at its start though RENAME/SMOVE/DEL reuse positions", () => {
    const m = new M();
    m.all(["SET", "a", "1"], ["SET", "b", "2"], ["SADD", "s", "m"], ["RPUSH", "l", "x"]);
    const before = m.sm.snapshot();
    const job = m.sm.beginSnapshot();
    expect(job.step(1)).toBe(false); // a is written; the others are not yet
    expect(m.all(
      ["RENAME", "a", "b"],
      ["SMOVE", "s", "t", "m"],
      ["SET", "c", "3"],
      ["LMOVE", "l", "l2", "LEFT", "LEFT"],
      ["DEL", "b"],
      ["SET", "b", "again"],
    )).toEqual(["OK", 1, "OK", "x", 1, "OK"]);
    while (!job.step(1)) { /* walk on */ }
    const snap = job.finish();
    const restored = createStateMachine();
    restored.restore(snap);
    expect(restored.snapshot()).toEqual(before);
    // And the live state round-trips through a full snapshot.
    const now = m.sm.snapshot();
    const again = new M(createStateMachine());
    again.sm.restore(now);
    again.ctx.index = m.ctx.index;
    expect(again.all(["KEYS", "*"], ["GET", "b"], ["SMEMBERS", "t"], ["LRANGE", "l2", "0", "-1"]))
      .toEqual([["b", "c", "l2", "t"], "again", ["m"], ["x"]]);
    expect(again.sm.snapshot()).toEqual(now);
  });

  test("watch events of RENAME (delete + put), SMOVE k k (none) and SMOVE emptying a set", () => {
    const m = new M();
    const h = new WatchHistory({ revisions: 100, bytes: 1 << 20 });
    m.sm.keepHistory!(h);
    m.all(
      ["SET", "a", "1"], // 1
      ["RENAME", "a", "b"], // 2
      ["SADD", "s", "m"], // 3
      ["SMOVE", "s", "s", "m"], // 4: no change
      ["SMOVE", "s", "t", "m"], // 5
    );
    const events = [];
    for (let i = h.firstSeq; i < h.endSeq; i++) {
      const e = h.at(i);
      events.push([e.rev, e.type, e.key, e.value === null ? null : show(e.value), e.createRev]);
    }
    expect(events).toEqual([
      [1, 0, "a", "1", 1],
      [2, 1, "a", null, 0],
      [2, 0, "b", "1", 2],
      [3, 0, "s", null, 3],
      [5, 1, "s", null, 0],
      [5, 0, "t", null, 5],
    ]);
  });
});
