/**
 * The seeded random operation sequence of the Deno KV conformance test, and a runner that plays it
 * against any `Deno.Kv`-shaped store and records normalised results. The same module runs under
 * Deno (against `Deno.openKv(":memory:")` and TinyKV's `openKv`) and under Bun (TinyKV's), so both
 * sides generate identical operations from the seed; results are compared as JSON strings.
 * Versionstamps are replaced by their rank among all versionstamps the run saw (Deno's and
 * TinyKV's differ in bytes, but must agree in order and equality).
 */
import { mulberry32 } from "../../bench/lib/prng.ts";

/** A key part / key, as both stores take them. */
export type Part = Uint8Array | string | number | bigint | boolean;
export type Key = Part[];

/** The part of the `Deno.Kv` surface the test drives (Deno's and TinyKV's both fit). */
export interface KvLike {
  get(key: Key): Promise<{ key: readonly Part[]; value: unknown; versionstamp: string | null }>;
  getMany(
    keys: Key[],
  ): Promise<{ key: readonly Part[]; value: unknown; versionstamp: string | null }[]>;
  set(
    key: Key,
    value: unknown,
    opts?: { expireIn?: number },
  ): Promise<{ ok: boolean; versionstamp: string }>;
  delete(key: Key): Promise<void>;
  list(
    sel: unknown,
    opts?: unknown,
  ): AsyncIterableIterator<{ key: readonly Part[]; value: unknown; versionstamp: string }> & {
    readonly cursor: string;
  };
  atomic(): AtomicLike;
}
export interface AtomicLike {
  check(...c: { key: Key; versionstamp: string | null }[]): AtomicLike;
  set(key: Key, value: unknown, opts?: { expireIn?: number }): AtomicLike;
  delete(key: Key): AtomicLike;
  sum(key: Key, n: bigint): AtomicLike;
  min(key: Key, n: bigint): AtomicLike;
  max(key: Key, n: bigint): AtomicLike;
  commit(): Promise<{ ok: boolean; versionstamp?: string }>;
}

/** How the U64 values are made on each side (Deno.KvU64 or TinyKV's KvU64). */
export type U64Ctor = new (v: bigint) => { value: bigint };

type ValueSpec = { u64: bigint } | { plain: unknown };

/** One operation (plain data, so both runtimes build the same list). */
export type Op =
  | { op: "get"; key: Key }
  | { op: "getMany"; keys: Key[] }
  | { op: "set"; key: Key; value: ValueSpec; expireIn?: number }
  | { op: "delete"; key: Key }
  | { op: "list"; sel: Record<string, Key>; opts: Record<string, unknown>; page?: number }
  | {
    op: "atomic";
    checks: { key: Key; how: "current" | "null" | "stale" }[];
    muts: (
      | { t: "set"; key: Key; value: ValueSpec }
      | { t: "delete"; key: Key }
      | { t: "sum" | "min" | "max"; key: Key; n: bigint }
    )[];
  };

const U64_MAX = (1n << 64n) - 1n;

/** Builds the operation list for `seed`. */
export function genOps(seed: number, n: number): Op[] {
  const r = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const tables = ["users", "posts", "", "u", "users\u0000x"];
  const parts: (() => Part)[] = [
    () => pick(["a", "b", "ab", "", "\u0000", "é", "z", "a\u0000"]),
    () => pick([0, 1, -1, 1.5, -0.25, 42, 1e21, -1e21, Infinity, -Infinity, NaN, -0]),
    () => pick([0n, 1n, -1n, 42n, 255n, 256n, -256n, 2n ** 64n, -(2n ** 64n), 2n ** 70n]),
    () => pick([true, false]),
    () =>
      pick([
        new Uint8Array([]),
        new Uint8Array([0]),
        new Uint8Array([0, 255]),
        new Uint8Array([1]),
      ]),
  ];
  const key = (): Key => {
    const k: Key = [pick(tables)];
    const len = int(0, 2);
    for (let i = 0; i < len; i++) k.push(pick(parts)());
    return k;
  };
  const sumKeys: Key[] = [["counter", 1], ["counter", 2], ["counter", 3n]];
  const plain: (() => unknown)[] = [
    () => int(-1000, 1000),
    () => r() * 1e6 - 5e5,
    () => pick(["", "hello", "héllo ✓", "x".repeat(int(0, 300))]),
    () => ({ a: int(0, 9), b: [1, "two", { c: null }], d: undefined }),
    () => [int(0, 5), [true, false], "s"],
    () => BigInt(int(-99999, 99999)) * 12345678901234567n,
    () => new Uint8Array([int(0, 255), 0, int(0, 255)]),
    () => new Map<unknown, unknown>([["k", 1], [2, { x: "y" }]]),
    () => new Set([1, "a", int(0, 5)]),
    () => new Date(int(0, 2e9) * 1000),
    () => pick([null, undefined, true, false, -0, NaN, Infinity]),
    () => ({ nested: { deep: [new Map([[1n, new Set(["q"])]])] } }),
  ];
  const value = (): ValueSpec =>
    r() < 0.15 ? { u64: BigInt(int(0, 1000)) } : { plain: pick(plain)() };
  const anyKey = () => r() < 0.2 ? pick(sumKeys) : key();
  const sel = (): Record<string, Key> => {
    const t = r();
    if (t < 0.4) {
      return { prefix: r() < 0.2 ? [] : [pick(tables), ...(r() < 0.3 ? [pick(parts)()] : [])] };
    }
    if (t < 0.7) return { start: key(), end: key() };
    const p = [pick(tables)];
    const inner = [...p, pick(parts)()];
    return r() < 0.5 ? { prefix: p, start: r() < 0.9 ? inner : key() } : { prefix: p, end: inner };
  };
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const t = r();
    if (t < 0.25) {
      ops.push({
        op: "set",
        key: anyKey(),
        value: value(),
        ...(r() < 0.05 ? { expireIn: pick([3_600_000, -5, 1.5]) } : {}),
      });
    } else if (t < 0.38) ops.push({ op: "get", key: anyKey() });
    else if (t < 0.43) ops.push({ op: "getMany", keys: Array.from({ length: int(0, 4) }, anyKey) });
    else if (t < 0.5) ops.push({ op: "delete", key: anyKey() });
    else if (t < 0.7) {
      const opts: Record<string, unknown> = {};
      if (r() < 0.5) opts.limit = int(1, 8);
      if (r() < 0.4) opts.reverse = true;
      if (r() < 0.3) opts.batchSize = int(1, 3);
      if (r() < 0.1) opts.consistency = "eventual";
      if (r() < 0.03) opts.batchSize = 1001; // Too many entries
      if (r() < 0.03) opts.cursor = "!!"; // invalid cursor
      ops.push({ op: "list", sel: sel(), opts, ...(r() < 0.5 ? { page: int(1, 3) } : {}) });
    } else {
      const checks = Array.from({ length: int(0, 3) }, () => ({
        key: anyKey(),
        how: pick(["current", "current", "null", "stale"] as const),
      }));
      const muts: Extract<Op, { op: "atomic" }>["muts"] = [];
      for (let m = int(0, 4); m > 0; m--) {
        const u = r();
        if (u < 0.4) muts.push({ t: "set", key: anyKey(), value: value() });
        else if (u < 0.55) muts.push({ t: "delete", key: anyKey() });
        else if (!muts.some((x) => x.t !== "set" && x.t !== "delete")) {
          // At most one sum/min/max, placed first: Deno KV's SQLite backend keeps the mutations
          // before a sum that fails on a non-U64 value (TinyKV applies none; docs/kv.md), so only
          // a failing first mutation is compared.
          const nn = pick([0n, 1n, 7n, 1000n, U64_MAX, U64_MAX - 3n, 2n ** 63n]);
          const t = pick(["sum", "sum", "min", "max"] as const);
          muts.unshift({ t, key: r() < 0.8 ? pick(sumKeys) : key(), n: nn });
        }
      }
      ops.push({ op: "atomic", checks, muts });
    }
  }
  return ops;
}

/** A JSON-safe, type-tagged rendering of a key or value. */
export function norm(v: unknown, u64: U64Ctor): unknown {
  if (v === undefined) return { undef: 1 };
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") {
    return Object.is(v, -0) || !Number.isFinite(v)
      ? { num: Object.is(v, -0) ? "-0" : String(v) }
      : v;
  }
  if (typeof v === "bigint") return { big: v.toString() };
  if (v instanceof u64) return { u64: (v as { value: bigint }).value.toString() };
  if (v instanceof Uint8Array) return { u8: [...v] };
  if (v instanceof Date) return { date: v.getTime() };
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [norm(k, u64), norm(x, u64)]) };
  if (v instanceof Set) return { set: [...v].map((x) => norm(x, u64)) };
  if (Array.isArray(v)) return v.map((x) => norm(x, u64));
  if (typeof v === "object") {
    return { obj: Object.keys(v).map((k) => [k, norm((v as Record<string, unknown>)[k], u64)]) };
  }
  return { other: String(v) };
}

/** Plays `ops` against `kv` and returns one normalised result per operation. */
export async function runOps(kv: KvLike, ops: Op[], u64: U64Ctor): Promise<unknown[]> {
  const out: unknown[] = [];
  const seenStamps: string[] = [];
  const vs = (s: string | null | undefined) => {
    if (typeof s === "string") seenStamps.push(s);
    return s === undefined ? "none" : s === null ? null : { vs: s };
  };
  const entry = (e: { key: readonly Part[]; value: unknown; versionstamp: string | null }) => [
    norm([...e.key], u64),
    norm(e.value, u64),
    vs(e.versionstamp),
  ];
  // a fresh copy per use: both stores get equal, unshared values
  const mk = (s: ValueSpec) => ("u64" in s ? new u64(s.u64) : structuredClone(s.plain));
  for (const o of ops) {
    try {
      switch (o.op) {
        case "get":
          out.push(entry(await kv.get(o.key)));
          break;
        case "getMany":
          out.push((await kv.getMany(o.keys)).map(entry));
          break;
        case "set": {
          const r = await kv.set(
            o.key,
            mk(o.value),
            o.expireIn ? { expireIn: o.expireIn } : undefined,
          );
          out.push([r.ok, vs(r.versionstamp)]);
          break;
        }
        case "delete":
          out.push(await kv.delete(o.key) ?? "deleted");
          break;
        case "list": {
          const pages: unknown[] = [];
          let cursor: string | undefined;
          for (let p = 0; p < (o.page ?? 1); p++) {
            const it = kv.list(o.sel, { ...o.opts, ...(cursor !== undefined ? { cursor } : {}) });
            const got: unknown[] = [];
            for await (const e of it) got.push([...entry(e), it.cursor]);
            cursor = it.cursor;
            pages.push([got, cursor]);
            if (got.length === 0) break;
          }
          out.push(pages);
          break;
        }
        case "atomic": {
          const a = kv.atomic();
          for (const c of o.checks) {
            let stamp: string | null = null;
            if (c.how === "current") stamp = (await kv.get(c.key)).versionstamp;
            else if (c.how === "stale") {
              stamp = seenStamps.length > 0 ? seenStamps[Math.floor(seenStamps.length / 2)] : null;
            }
            a.check({ key: c.key, versionstamp: stamp });
          }
          for (const m of o.muts) {
            if (m.t === "set") a.set(m.key, mk(m.value));
            else if (m.t === "delete") a.delete(m.key);
            else a[m.t](m.key, m.n);
          }
          const r = await a.commit();
          out.push(r.ok ? [true, vs(r.versionstamp)] : [false]);
          break;
        }
      }
    } catch (err) {
      out.push({ error: `${(err as Error).name}: ${(err as Error).message}` });
    }
  }
  // Versionstamps → their rank among every versionstamp this run saw.
  const rank = new Map([...new Set(seenStamps)].sort().map((s, i) => [s, i]));
  return JSON.parse(
    JSON.stringify(
      out,
      (_k, v) => (v && typeof v === "object" && "vs" in v ? { vs: rank.get(v.vs) } : v),
    ),
  );
}

/** `n` random keys (1..4 parts of every type, edge values included) for the key-order test. */
export function genKeys(seed: number, n: number): Key[] {
  const r = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const part = (): Part => {
    switch (int(0, 4)) {
      case 0:
        return Uint8Array.from({ length: int(0, 3) }, () => [0, 255, int(0, 255)][int(0, 2)]);
      case 1:
        return Array.from(
          { length: int(0, 3) },
          () => ["\u0000", "a", "é", "\uffff", "😀", "\u007f"][int(0, 5)],
        ).join("");
      case 2:
        return [
          0,
          -0,
          1,
          -1,
          0.5,
          -0.5,
          2 ** 53,
          -(2 ** 53),
          1e308,
          -1e308,
          5e-324,
          -5e-324,
          Infinity,
          -Infinity,
          NaN,
          r() * 1e6 - 5e5,
        ][int(0, 15)];
      case 3: {
        const mag =
          [0n, 1n, 255n, 256n, 2n ** 63n, 2n ** 64n, 2n ** 64n - 1n, 2n ** 200n][int(0, 7)];
        return r() < 0.5 ? -mag : mag;
      }
      default:
        return r() < 0.5;
    }
  };
  return Array.from({ length: n }, () => Array.from({ length: int(1, 4) }, part));
}

/** What the watch script needs beyond {@link KvLike}. */
export interface WatchKvLike extends KvLike {
  watch(
    keys: Key[],
  ): ReadableStream<{ key: readonly Part[]; value: unknown; versionstamp: string | null }[]>;
}

/**
 * A scripted watch sequence (each write awaited, then the stream's next array read): the arrays
 * the stream yields, normalised, versionstamps by rank. Writes to keys that are not watched (one
 * inside the range the watched keys span) must yield nothing.
 */
export async function runWatchScript(kv: WatchKvLike, u64: U64Ctor): Promise<unknown[]> {
  const k1: Key = ["w", 1], k2: Key = ["w", 3], between: Key = ["w", 2];
  const reader = kv.watch([k1, k2, k1]).getReader();
  const out: unknown[] = [];
  const stamps: string[] = [];
  const read = async () => {
    const r = await reader.read();
    out.push(
      r.done ? "done" : r.value.map((e) => {
        if (e.versionstamp !== null) stamps.push(e.versionstamp);
        return [
          norm([...e.key], u64),
          norm(e.value, u64),
          e.versionstamp === null ? null : { vs: e.versionstamp },
        ];
      }),
    );
  };
  await read(); // the current entries
  await kv.set(k1, "a");
  await read();
  await kv.set(k2, { n: 1 });
  await read();
  await kv.set(between, "not watched");
  await kv.atomic().set(k1, "b").delete(k2).commit();
  await read();
  await kv.atomic().sum(k2, 5n).commit();
  await read();
  await kv.delete(k1);
  await read();
  await kv.set(["elsewhere"], 1);
  await kv.set(k1, new u64(7n));
  await read();
  await reader.cancel();
  const rank = new Map([...new Set(stamps)].sort().map((s, i) => [s, i]));
  return JSON.parse(
    JSON.stringify(
      out,
      (_k, v) => (v && typeof v === "object" && "vs" in v ? { vs: rank.get(v.vs) } : v),
    ),
  );
}
