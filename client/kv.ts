/**
 * A Deno KV–compatible API on TinyKV: `openKv()` returns a {@link Kv} with the methods and result
 * shapes of `Deno.Kv` (get, getMany, set, delete, list, atomic, watch, close), on Deno and Bun.
 * Keys are tuples encoded in Deno KV's order (client/kv_key.ts), values structured-clone-like CBOR
 * (client/kv_value.ts); versionstamps are the revisions (log indexes) of the writes. See
 * docs/kv.md for the mapping onto commands, the limits and the differences from Deno KV.
 *
 * ```ts
 * import { openKv } from "./mod.ts";
 * const kv = await openKv({ host: "127.0.0.1", port: 5210 });
 * const { versionstamp } = await kv.set(["users", 42], { name: "Ada" });
 * const r = await kv.atomic().check({ key: ["users", 42], versionstamp })
 *   .set(["users", 42], { name: "Ada L." }).commit(); // { ok: true, versionstamp } or { ok: false }
 * for await (const e of kv.list({ prefix: ["users"] })) console.log(e.key, e.value);
 * kv.close();
 * ```
 * @module
 */
import { Code, TinyKVError } from "../protocol/codes.ts";
import { connect } from "./client.ts";
import type { Arg, Client, ConnectOptions, Value } from "./types.ts";
import type { Watcher } from "./watch.ts";
import {
  base64url,
  compareBytes,
  decodeKey,
  encodeKey,
  fromBase64url,
  type KvKey,
  type KvKeyPart,
  MAX_READ_KEY_BYTES,
  MAX_WRITE_KEY_BYTES,
  startsWith,
  withByte,
} from "./kv_key.ts";
import { decodeValue, encodeValue, KvU64 } from "./kv_value.ts";

export { KvU64 } from "./kv_value.ts";
export type { KvKey, KvKeyPart } from "./kv_key.ts";

/** Largest encoded value (Deno KV's limit). */
export const MAX_VALUE_BYTES = 65_536;
/** Most checks in one atomic operation (Deno KV's limit). */
export const MAX_CHECKS = 100;
/** Most mutations in one atomic operation (Deno KV's limit). */
export const MAX_MUTATIONS = 1000;
/** Most bytes of keys and values in one atomic operation (Deno KV's limit, 800 KiB). */
export const MAX_TOTAL_MUTATION_BYTES = 819_200;
/** Most bytes of the keys of value-carrying mutations in one atomic operation (Deno KV's). */
export const MAX_TOTAL_KEY_BYTES = 81_920;
/** Most keys in one `getMany` (Deno KV's limit). */
export const MAX_GET_MANY = 10;
/** Most keys in one `watch` (Deno KV's limit). */
export const MAX_WATCH_KEYS = 10;
/** Most entries per `list` round trip (Deno KV's limit). */
export const MAX_LIST_BATCH = 1000;
/** Entries per `list` round trip when `batchSize` is not given (Deno KV's default). */
export const DEFAULT_LIST_BATCH = 500;

/** Read consistency: TinyKV always answers `"strong"` (ReadIndex), whichever is asked. */
export type KvConsistencyLevel = "strong" | "eventual";

/** An entry, as `Deno.KvEntry`. */
export interface KvEntry<T> {
  /** The key. */
  key: KvKey;
  /** The value. */
  value: T;
  /** The revision of the write that set it, as 20 hex digits. */
  versionstamp: string;
}

/** An entry that may be absent (`value` and `versionstamp` null), as `Deno.KvEntryMaybe`. */
export type KvEntryMaybe<T> = KvEntry<T> | { key: KvKey; value: null; versionstamp: null };

/** The result of a successful commit, as `Deno.KvCommitResult`. */
export interface KvCommitResult {
  /** Every check held: the mutations were applied. */
  ok: true;
  /** The commit's revision, as 20 hex digits (every key it wrote has it now). */
  versionstamp: string;
}

/** The result of a commit whose check failed, as `Deno.KvCommitError`. */
export interface KvCommitError {
  /** A check failed: nothing was applied. */
  ok: false;
}

/** A check of an atomic operation: `versionstamp` null means "the key is absent". */
export interface AtomicCheck {
  /** The key checked. */
  key: KvKey;
  /** The versionstamp it must have (null: it must be absent). */
  versionstamp: string | null;
}

/** A mutation for {@link AtomicOperation.mutate}, as `Deno.KvMutation`. */
export type KvMutation =
  & { key: KvKey }
  & (
    | { type: "set"; value: unknown; expireIn?: number }
    | { type: "delete" }
    | { type: "sum"; value: KvU64 }
    | { type: "max"; value: KvU64 }
    | { type: "min"; value: KvU64 }
  );

/** Which keys `list` walks, as `Deno.KvListSelector`. */
export type KvListSelector =
  | { prefix: KvKey }
  | { prefix: KvKey; start: KvKey }
  | { prefix: KvKey; end: KvKey }
  | { start: KvKey; end: KvKey };

/** Options of `list`, as `Deno.KvListOptions`. */
export interface KvListOptions {
  /** Most entries returned (a positive integer). */
  limit?: number;
  /** A cursor from an earlier iterator's `cursor`: continue after its entry. */
  cursor?: string;
  /** Largest key first. */
  reverse?: boolean;
  /** Accepted for compatibility; reads are always strong. */
  consistency?: KvConsistencyLevel;
  /** Entries per round trip (1..1000, default min(limit, 500)). */
  batchSize?: number;
}

/** Options of {@link openKv}: where the cluster is, as for `connect` (client/types.ts). */
export interface OpenKvOptions extends ConnectOptions {}

/** `rev` (a log index) as a 20-hex-digit versionstamp: 16 digits of revision, then `0000`. */
export function versionstampOf(rev: number): string {
  return rev.toString(16).padStart(16, "0") + "0000";
}

/**
 * The mod revision a check with this versionstamp compares against: 0 for null (absent);
 * `Number.MAX_SAFE_INTEGER` (never a revision) for a well-formed versionstamp TinyKV cannot have
 * made. Throws `TypeError("Invalid check")` for anything else, as Deno KV does.
 */
export function revisionOf(versionstamp: string | null): number {
  if (versionstamp === null) return 0;
  if (typeof versionstamp !== "string" || !/^[0-9a-f]{20}$/.test(versionstamp)) {
    throw new TypeError("Invalid check");
  }
  if (!versionstamp.endsWith("0000")) return Number.MAX_SAFE_INTEGER;
  const r = BigInt("0x" + versionstamp.slice(0, 16));
  return r > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(r);
}

function writeKey(key: KvKey): Uint8Array {
  if (!Array.isArray(key)) throw new TypeError("key must be an array");
  if (key.length === 0) throw new TypeError("key cannot be empty");
  const b = encodeKey(key);
  if (b.length > MAX_WRITE_KEY_BYTES) {
    throw new TypeError(`Key too large for write (max ${MAX_WRITE_KEY_BYTES} bytes)`);
  }
  return b;
}

function readKey(key: KvKey): Uint8Array {
  const b = encodeKey(key);
  if (b.length > MAX_READ_KEY_BYTES) {
    throw new TypeError(`Key too large for read (max ${MAX_READ_KEY_BYTES} bytes)`);
  }
  return b;
}

function frozenKey(key: KvKey): KvKey {
  return Object.freeze(key.slice()) as KvKey;
}

/** The entry a GETREV reply (`[value, create, mod, version]` or null) stands for. */
function entryOf<T>(key: KvKey, reply: Value): KvEntryMaybe<T> {
  if (reply === null) return { key: frozenKey(key), value: null, versionstamp: null };
  const r = reply as Value[];
  return {
    key: frozenKey(key),
    value: decodeValue(r[0] as Uint8Array) as T,
    versionstamp: versionstampOf(r[2] as number),
  };
}

/** One queued mutation, as KVATOMIC arguments, with the bytes it counts toward the limits. */
interface Mut {
  args: Arg[];
  keyBytes: number;
  valueBytes: number;
}

/** An atomic operation, as `Deno.AtomicOperation`: checks, then mutations, all or nothing. */
export class AtomicOperation {
  readonly #kv: Kv;
  readonly #checks: { key: Uint8Array; rev: number }[] = [];
  readonly #muts: Mut[] = [];

  /** @internal use {@link Kv.atomic} */
  constructor(kv: Kv) {
    this.#kv = kv;
  }

  /** Adds checks: the commit fails (`{ ok: false }`) unless every key has that versionstamp. */
  check(...checks: AtomicCheck[]): this {
    for (const c of checks) {
      const key = writeKey(c.key);
      this.#checks.push({ key, rev: revisionOf(c.versionstamp) });
    }
    return this;
  }

  /** Adds mutations (`set`, `delete`, `sum`, `min`, `max`). */
  mutate(...mutations: KvMutation[]): this {
    for (const m of mutations) {
      switch (m.type) {
        case "set":
          this.set(m.key, m.value, { expireIn: m.expireIn });
          break;
        case "delete":
          this.delete(m.key);
          break;
        case "sum":
        case "min":
        case "max":
          if (!(m.value instanceof KvU64)) throw new TypeError("Value must be a Deno.KvU64");
          this.#u64(m.type, m.key, m.value);
          break;
        default:
          throw new TypeError(`Invalid mutation type: ${(m as { type: unknown }).type}`);
      }
    }
    return this;
  }

  /** Sets `key` to `value`; `expireIn` (ms) makes it expire. */
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): this {
    const k = writeKey(key);
    const v = encodeValue(value);
    if (v.length > MAX_VALUE_BYTES) {
      throw new TypeError(`Value too large (max ${MAX_VALUE_BYTES} bytes)`);
    }
    const ex = options?.expireIn;
    let px = 0;
    if (ex !== undefined) {
      if (!Number.isSafeInteger(ex) || ex < 0) {
        throw new TypeError(`expireIn must be a non-negative integer: received ${ex}`);
      }
      px = Math.max(1, ex);
    }
    this.#muts.push({ args: ["SET", k, v, String(px)], keyBytes: k.length, valueBytes: v.length });
    return this;
  }

  /** Deletes `key`. */
  delete(key: KvKey): this {
    const k = writeKey(key);
    this.#muts.push({ args: ["DEL", k], keyBytes: k.length, valueBytes: -1 });
    return this;
  }

  /** Adds `n` to the KvU64 at `key` (modulo 2^64; sets it when absent). */
  sum(key: KvKey, n: bigint): this {
    return this.#u64("sum", key, new KvU64(n));
  }

  /** Keeps the smaller of `n` and the KvU64 at `key` (sets it when absent). */
  min(key: KvKey, n: bigint): this {
    return this.#u64("min", key, new KvU64(n));
  }

  /** Keeps the larger of `n` and the KvU64 at `key` (sets it when absent). */
  max(key: KvKey, n: bigint): this {
    return this.#u64("max", key, new KvU64(n));
  }

  #u64(op: "sum" | "min" | "max", key: KvKey, n: KvU64): this {
    const k = writeKey(key);
    const operand = new Uint8Array(8);
    new DataView(operand.buffer).setBigUint64(0, n.value);
    this.#muts.push({ args: [op.toUpperCase(), k, operand], keyBytes: k.length, valueBytes: 12 });
    return this;
  }

  /** Not supported by TinyKV (queues): throws. */
  enqueue(_value: unknown, _options?: unknown): this {
    throw new TypeError("TinyKV's KV API has no queues (enqueue is not supported)");
  }

  /** The KVATOMIC arguments, after Deno KV's limit checks. */
  args(): Arg[] {
    if (this.#checks.length > MAX_CHECKS) {
      throw new TypeError(`Too many checks (max ${MAX_CHECKS})`);
    }
    if (this.#muts.length > MAX_MUTATIONS) {
      throw new TypeError(`Too many mutations (max ${MAX_MUTATIONS})`);
    }
    let payload = 0;
    let keys = 0;
    for (const c of this.#checks) payload += c.key.length;
    for (const m of this.#muts) {
      payload += m.keyBytes;
      if (m.valueBytes >= 0) {
        payload += m.keyBytes + m.valueBytes;
        keys += m.keyBytes;
      }
    }
    if (payload > MAX_TOTAL_MUTATION_BYTES) {
      throw new TypeError(`Total mutation size too large (max ${MAX_TOTAL_MUTATION_BYTES} bytes)`);
    }
    if (keys > MAX_TOTAL_KEY_BYTES) {
      throw new TypeError(`Total key size too large (max ${MAX_TOTAL_KEY_BYTES} bytes)`);
    }
    const args: Arg[] = ["KVATOMIC", String(this.#checks.length)];
    for (const c of this.#checks) args.push(c.key, String(c.rev));
    for (const m of this.#muts) for (const a of m.args) args.push(a);
    return args;
  }

  /**
   * Commits: `{ ok: true, versionstamp }` when every check held (all mutations applied, in one
   * log entry), `{ ok: false }` when one did not (nothing applied). A sum/min/max on a value that
   * is not a KvU64 throws a TypeError (nothing applied).
   */
  async commit(): Promise<KvCommitResult | KvCommitError> {
    const args = this.args();
    let rev: Value;
    try {
      rev = await this.#kv.client.command(...args);
    } catch (err) {
      if (err instanceof TinyKVError) {
        if (err.codeName === "ABORTED") return { ok: false };
        if (err.codeName === "WRONG_TYPE") throw new TypeError(err.message);
      }
      throw err;
    }
    return { ok: true, versionstamp: versionstampOf(rev as number) };
  }
}

/** The key range a selector (and cursor) stands for, and the prefix cursors are relative to. */
interface Bounds {
  start: Uint8Array;
  end: Uint8Array;
  cursorBase: Uint8Array;
}

function commonPrefix(a: Uint8Array, b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** True if `key` is in the keyspace of `prefix` (starts with it and is longer). */
function inside(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length > prefix.length && startsWith(key, prefix);
}

function boundsOf(selector: KvListSelector, cursor: string | undefined, reverse: boolean): Bounds {
  const s = selector as { prefix?: KvKey; start?: KvKey; end?: KvKey };
  let b: Bounds;
  if (s.prefix !== undefined) {
    const p = readKey(s.prefix);
    const start = s.start !== undefined ? readKey(s.start) : withByte(p, 0x00);
    const end = s.end !== undefined ? readKey(s.end) : withByte(p, 0xff);
    if (s.start !== undefined && s.end !== undefined) {
      throw new TypeError("Selector must specify either 'prefix' or both 'start' and 'end' key");
    }
    if (s.start !== undefined && !inside(start, p)) {
      throw new TypeError("Start key is not in the keyspace defined by prefix");
    }
    if (s.end !== undefined && !inside(end, p)) {
      throw new TypeError("End key is not in the keyspace defined by prefix");
    }
    b = { start, end, cursorBase: p };
  } else if (s.start !== undefined && s.end !== undefined) {
    const start = readKey(s.start);
    const end = readKey(s.end);
    if (compareBytes(start, end) > 0) throw new TypeError("Start key is greater than end key");
    b = { start, end, cursorBase: commonPrefix(start, end) };
  } else {
    throw new TypeError("Selector must specify either 'prefix' or both 'start' and 'end' key");
  }
  if (cursor === undefined || cursor === "") return b; // "" (an exhausted list's): from the start, as Deno KV
  const rest = typeof cursor === "string" ? fromBase64url(cursor) : null;
  if (rest === null) throw new TypeError("invalid cursor");
  const boundary = new Uint8Array(b.cursorBase.length + rest.length);
  boundary.set(b.cursorBase);
  boundary.set(rest, b.cursorBase.length);
  const start = reverse ? b.start : withByte(boundary, 0x00);
  const end = reverse ? boundary : b.end;
  if (compareBytes(start, b.start) < 0 || compareBytes(end, b.end) > 0) {
    throw new TypeError("cursor out of bounds");
  }
  return { start, end, cursorBase: b.cursorBase };
}

/** The iterator `list` returns, as `Deno.KvListIterator`: entries in key order, and a cursor. */
export class KvListIterator<T> implements AsyncIterableIterator<KvEntry<T>> {
  readonly #client: Client;
  readonly #reverse: boolean;
  readonly #batch: number;
  #cursorBase: Uint8Array = new Uint8Array(0);
  #start: Uint8Array = new Uint8Array(0);
  #end: Uint8Array = new Uint8Array(0);
  /** What is wrong with the options, thrown by the first next() (as Deno KV does). */
  #problem: Error | null = null;
  #left: number;
  #entries: KvEntry<T>[] = [];
  #keys: Uint8Array[] = [];
  #pos = 0;
  #exhausted = false;
  #started = false;
  #cursor = "";

  /** @internal use {@link Kv.list} */
  constructor(client: Client, selector: KvListSelector, options: KvListOptions = {}) {
    const { limit, reverse = false, batchSize } = options;
    // As Deno KV: a selector without a range and a bad limit throw here, the rest on next().
    const sel = selector as { prefix?: KvKey; start?: KvKey; end?: KvKey };
    if (sel.prefix === undefined && (sel.start === undefined || sel.end === undefined)) {
      throw new TypeError("Selector must specify either 'prefix' or both 'start' and 'end' key");
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) {
      throw new Error(`Limit must be a positive integer: received ${limit}`);
    }
    this.#client = client;
    this.#reverse = reverse;
    this.#left = limit ?? Infinity;
    this.#batch = batchSize ?? Math.min(limit ?? DEFAULT_LIST_BATCH, DEFAULT_LIST_BATCH);
    try {
      const b = boundsOf(selector, options.cursor, reverse);
      this.#cursorBase = b.cursorBase;
      this.#start = b.start;
      this.#end = b.end;
      if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize <= 0)) {
        throw new TypeError(`Batch size must be a positive integer: received ${batchSize}`);
      }
      if (batchSize !== undefined && batchSize > MAX_LIST_BATCH) {
        throw new TypeError(`Too many entries (max ${MAX_LIST_BATCH})`);
      }
    } catch (err) {
      this.#problem = err as Error;
    }
  }

  /** The cursor after the last entry returned (`""` when none was); throws before iterating. */
  get cursor(): string {
    if (!this.#started) throw new Error("Cannot get cursor before first iteration");
    return this.#cursor;
  }

  /** The next entry. */
  async next(): Promise<IteratorResult<KvEntry<T>, undefined>> {
    this.#started = true;
    if (this.#problem !== null) throw this.#problem;
    if (this.#left <= 0) return { done: true, value: undefined };
    while (this.#pos >= this.#entries.length) {
      if (this.#exhausted) {
        this.#cursor = ""; // as Deno KV: the range is exhausted, nothing to resume from
        return { done: true, value: undefined };
      }
      await this.#fetch();
    }
    const i = this.#pos++;
    this.#left--;
    this.#cursor = base64url(this.#keys[i].subarray(this.#cursorBase.length));
    return { done: false, value: this.#entries[i] };
  }

  /** Reads the next page with RANGE (skipping keys that are not KV entries). */
  async #fetch(): Promise<void> {
    this.#entries = [];
    this.#keys = [];
    this.#pos = 0;
    if (compareBytes(this.#start, this.#end) >= 0) {
      this.#exhausted = true;
      return;
    }
    const want = Math.min(this.#batch, this.#left);
    const args: Arg[] = ["RANGE", this.#start, this.#end, "LIMIT", String(want)];
    if (this.#reverse) args.push("REV");
    const rows = (await this.#client.command(...args)) as Value[][];
    let last: Uint8Array | null = null;
    for (const row of rows) {
      const kb = row[0] as Uint8Array;
      last = kb;
      if (row[1] === null) continue; // not a string key: not a KV entry
      let key: KvKeyPart[];
      try {
        key = decodeKey(kb);
      } catch {
        continue; // not an encoded tuple (written by another client): not a KV entry
      }
      this.#keys.push(kb);
      this.#entries.push({
        key: Object.freeze(key) as KvKey,
        value: decodeValue(row[1] as Uint8Array) as T,
        versionstamp: versionstampOf(row[3] as number),
      });
    }
    if (rows.length < want || last === null) this.#exhausted = true;
    else if (this.#reverse) this.#end = last;
    else this.#start = withByte(last, 0x00);
  }

  /** This iterator. */
  [Symbol.asyncIterator](): AsyncIterableIterator<KvEntry<T>> {
    return this;
  }
}

/** A Deno KV–compatible handle on a TinyKV cluster, as `Deno.Kv`. */
export class Kv {
  /** The TinyKV client underneath (for commands the KV API has no method for). */
  readonly client: Client;
  readonly #ownsClient: boolean;
  readonly #streams = new Set<() => void>();

  /** Wraps a connected client; `close()` closes it when `ownsClient` (as {@link openKv} does). */
  constructor(client: Client, ownsClient = false) {
    this.client = client;
    this.#ownsClient = ownsClient;
  }

  /** The entry at `key` (`value` and `versionstamp` null when absent). */
  async get<T = unknown>(
    key: KvKey,
    _options?: { consistency?: KvConsistencyLevel },
  ): Promise<KvEntryMaybe<T>> {
    const k = readKey(key);
    return entryOf<T>(key, await this.client.command("GETREV", k));
  }

  /** The entries at up to 10 keys, read at one point in time (one read-only batch). */
  async getMany<T extends readonly unknown[]>(
    keys: readonly KvKey[],
    _options?: { consistency?: KvConsistencyLevel },
  ): Promise<{ [K in keyof T]: KvEntryMaybe<T[K]> }> {
    if (keys.length > MAX_GET_MANY) throw new TypeError(`Too many ranges (max ${MAX_GET_MANY})`);
    const cmds = keys.map((k) => ["GETREV", readKey(k)] as Arg[]);
    const res = cmds.length === 0 ? [] : await this.client.batch(cmds);
    return res.map((r, i) => {
      if (!r.ok) throw new TinyKVError(Code[r.code], r.error ?? r.code);
      return entryOf(keys[i], r.value);
    }) as { [K in keyof T]: KvEntryMaybe<T[K]> };
  }

  /** Sets `key` to `value` (`expireIn`: ms until it expires). */
  async set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<KvCommitResult> {
    return (await this.atomic().set(key, value, options).commit()) as KvCommitResult;
  }

  /** Deletes `key` (nothing when it is absent). */
  async delete(key: KvKey): Promise<void> {
    await this.atomic().delete(key).commit();
  }

  /** The entries a selector covers, in key order (or reversed), paged by `batchSize`. */
  list<T = unknown>(selector: KvListSelector, options?: KvListOptions): KvListIterator<T> {
    return new KvListIterator<T>(this.client, selector, options);
  }

  /** A new atomic operation. */
  atomic(): AtomicOperation {
    return new AtomicOperation(this);
  }

  /**
   * A stream that yields the entries at `keys` (at most 10) now, and again after each change to
   * one of them (changes close together may be yielded as one array; `raw`: also yield when a
   * write left a key's versionstamp as it was). One TinyKV watch serves the stream: on the key, or
   * for several keys on the range from the smallest to the largest (other keys in it are read
   * and dropped), so every array is the state at one revision.
   */
  watch<T extends readonly unknown[]>(
    keys: readonly KvKey[],
    options?: { raw?: boolean },
  ): ReadableStream<{ [K in keyof T]: KvEntryMaybe<T[K]> }> {
    type Out = { [K in keyof T]: KvEntryMaybe<T[K]> };
    if (keys.length > MAX_WATCH_KEYS) throw new TypeError(`Too many keys (max ${MAX_WATCH_KEYS})`);
    const encoded = keys.map(readKey);
    const raw = options?.raw === true;
    let watcher: Watcher | null = null;
    let ctl: ReadableStreamDefaultController<Out> | null = null;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = (close: boolean) => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      watcher?.cancel();
      this.#streams.delete(stopper);
      if (close) {
        try {
          ctl?.close();
        } catch { /* already closed or errored */ }
      }
    };
    const stopper = () => stop(true);
    return new ReadableStream<Out>({
      start: async (controller) => {
        ctl = controller;
        this.#streams.add(stopper);
        // One read-only batch: the entries and the revision they are at, so the watch starts
        // right after it (no gap, no duplicate).
        const cmds: Arg[][] = encoded.map((k) => ["GETREV", k]);
        cmds.push(["REVISION"]);
        const res = await this.client.batch(cmds);
        if (stopped) return;
        const current = keys.map((k, i) => entryOf<unknown>(k, res[i].value));
        const from = (res[res.length - 1].value as number) + 1;
        if (keys.length === 0) return stop(true); // as Deno KV: nothing to watch, the stream ends
        controller.enqueue(current.slice() as unknown as Out);
        const slot = new Map<string, number[]>();
        encoded.forEach((k, i) => {
          const id = base64url(k);
          slot.set(id, [...(slot.get(id) ?? []), i]);
        });
        let lo = encoded[0], hi = encoded[0];
        for (const k of encoded) {
          if (compareBytes(k, lo) < 0) lo = k;
          if (compareBytes(k, hi) > 0) hi = k;
        }
        const w = slot.size === 1
          ? this.client.watch({ key: lo, fromRev: from })
          : this.client.watch({ start: lo, end: withByte(hi, 0x00), fromRev: from });
        watcher = w;
        const flush = () => {
          timer = undefined;
          if (!stopped) controller.enqueue(current.slice() as unknown as Out);
        };
        (async () => {
          try {
            for await (const ev of w) {
              if (stopped) return;
              const at = slot.get(base64url(ev.key));
              if (at === undefined) continue;
              let changed = raw;
              for (const i of at) {
                const before = current[i].versionstamp;
                current[i] = ev.type === "delete" || ev.value === null
                  ? { key: frozenKey(keys[i]), value: null, versionstamp: null }
                  : {
                    key: frozenKey(keys[i]),
                    value: decodeValue(ev.value),
                    versionstamp: versionstampOf(ev.modRev),
                  };
                if (before !== current[i].versionstamp) changed = true;
              }
              // Yielded on a later turn: the rest of this revision's events (one message) first.
              if (changed && timer === undefined) timer = setTimeout(flush, 0);
            }
          } catch (err) {
            if (!stopped) {
              stop(false);
              controller.error(err);
            }
          }
        })();
      },
      cancel: () => stop(false),
    });
  }

  /** Not supported by TinyKV (queues): throws. */
  enqueue(_value: unknown, _options?: unknown): Promise<KvCommitResult> {
    return Promise.reject(
      new TypeError("TinyKV's KV API has no queues (enqueue is not supported)"),
    );
  }

  /** Not supported by TinyKV (queues): throws. */
  listenQueue(_handler: (value: unknown) => unknown): Promise<void> {
    return Promise.reject(
      new TypeError("TinyKV's KV API has no queues (listenQueue is not supported)"),
    );
  }

  /** Ends every watch stream and, when this handle opened the client, closes it. */
  close(): void {
    for (const stop of [...this.#streams]) stop();
    if (this.#ownsClient) this.client.close().catch(() => {}); // nothing left to report to
  }

  /** `using kv = await openKv()` closes it. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Connects to a TinyKV cluster (`host`/`port`, or `endpoints`, and `password`: the options of
 * `connect`) and returns a Deno KV–compatible {@link Kv}.
 */
export async function openKv(options: OpenKvOptions = {}): Promise<Kv> {
  return new Kv(await connect(options), true);
}
