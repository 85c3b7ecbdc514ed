/** Test harness for the state machine: run commands with a controllable ctx, decode replies. */
import { expect } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import type { Deque } from "../../core/state/deque.ts";
import { type Keyspace, Kind } from "../../core/state/keyspace.ts";
import type { SortedSet } from "../../core/state/sorted_set.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import type { ApplyContext, StateMachine, Value } from "../../core/state/types.ts";

const enc = new TextEncoder();

/** A reply, with bulk bytes decoded as latin1-ish strings (one char per byte) for easy asserts. */
export interface Reply {
  code: number;
  value: unknown;
  raw: Value;
  error: string | null;
}

/** Converts replies: Uint8Array → string (one char per byte), arrays recursively. */
export function show(v: Value): unknown {
  if (v instanceof Uint8Array) {
    let s = "";
    for (let i = 0; i < v.length; i += 4096) s += String.fromCharCode(...v.subarray(i, i + 4096));
    return s;
  }
  if (Array.isArray(v)) return v.map(show);
  return v;
}

/** Argument: strings are UTF-8 encoded; bytes pass through. */
export type Arg = string | Uint8Array;

/** A state machine with a clock and log index under test control. */
export class Harness {
  readonly sm: StateMachine;
  readonly ctx: ApplyContext;

  constructor(sm: StateMachine = createStateMachine(), nowMs = 1_000_000) {
    this.sm = sm;
    this.ctx = { nowMs, index: 0 };
  }

  /** Applies one command (next log index) and returns its single reply. */
  run(...args: Arg[]): Reply {
    this.ctx.index++;
    const out = { codes: [] as number[], data: [] as Value[], errors: [] as (string | null)[] };
    this.sm.apply(args.map((a) => typeof a === "string" ? enc.encode(a) : a), this.ctx, out);
    expect(out.codes.length).toBe(1);
    expect(out.data.length).toBe(1);
    expect(out.errors.length).toBe(1);
    return { code: out.codes[0], value: show(out.data[0]), raw: out.data[0], error: out.errors[0] };
  }

  /** Runs a command that must succeed with OK; returns the decoded value. */
  ok(...args: Arg[]): unknown {
    const r = this.run(...args);
    if (r.code !== Code.OK) {
      throw new Error(`${args.map(String).join(" ")}: expected OK, got ${r.code} ${r.error}`);
    }
    expect(r.error).toBeNull();
    return r.value;
  }

  /** Runs a command that must reply nil (NOT_FOUND, null). */
  nil(...args: Arg[]): void {
    const r = this.run(...args);
    expect({ code: r.code, value: r.value, error: r.error }).toEqual({
      code: Code.NOT_FOUND,
      value: null,
      error: null,
    });
  }

  /** Runs a command that must fail with `code`; returns the message. */
  err(code: number, ...args: Arg[]): string {
    const r = this.run(...args);
    if (r.code !== code) {
      throw new Error(`${args.map(String).join(" ")}: expected code ${code}, got ${r.code}`);
    }
    expect(r.value).toBeNull();
    expect(typeof r.error).toBe("string");
    return r.error as string;
  }

  /** Moves the leader clock forward. */
  advance(ms: number): void {
    this.ctx.nowMs += ms;
  }
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The WRONGTYPE message. */
export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

const dec = new TextDecoder();

/** An order-independent dump of a keyspace (key → kind, expiry, revisions, value). */
export function canonical(db: Keyspace): string[] {
  const out: string[] = [];
  for (const [k, e] of db.store.entries()) {
    let v: unknown;
    switch (e.kind) {
      case Kind.STRING:
        v = dec.decode(e.value as Uint8Array);
        break;
      case Kind.LIST: {
        const d = e.value as Deque;
        v = Array.from({ length: d.length }, (_, i) => dec.decode(d.at(i)));
        break;
      }
      case Kind.SET:
        v = [...(e.value as Set<string>)];
        break;
      case Kind.HASH:
        v = [...(e.value as Map<string, Uint8Array>)].map(([f, x]) => [f, dec.decode(x)]);
        break;
      case Kind.ZSET: {
        const z = e.value as SortedSet;
        const items: unknown[] = [];
        for (let n = z.first(); n !== null; n = n.next[0]) items.push([n.member, n.score]);
        v = items;
        break;
      }
    }
    out.push(JSON.stringify([k, e.kind, e.expireAt, e.createRev, e.modRev, v]));
  }
  return out.sort();
}
