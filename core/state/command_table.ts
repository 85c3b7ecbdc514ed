/**
 * Command specs and the name → spec table. Lookup hashes argv[0]'s bytes with ASCII case folding
 * and verifies the match byte by byte: no string is allocated per command.
 * @module
 */
import type { Keyspace } from "./keyspace.ts";
import type { ApplyContext, Argv, ResultSink } from "./types.ts";

/** A command implementation: reads argv, mutates the keyspace, appends exactly one result. */
export type Handler = (db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink) => void;

/** One command. */
export interface CommandSpec {
  /** Lower-case name (used in error messages, like Redis). */
  readonly name: string;
  /** Redis-style arity: n > 0 exactly n argv elements (name included); n < 0 at least -n. */
  readonly arity: number;
  /** True if it may modify state (then it reclaims expired keys and runs the active sweep). */
  readonly write: boolean;
  /** The implementation (called after the arity check). */
  readonly run: Handler;
}

const SLOTS = 512; // power of two, well above the number of commands
const MAX_NAME = 32;

function foldHash(b: Uint8Array): number {
  let h = b.length;
  for (let i = 0; i < b.length; i++) {
    let c = b[i];
    if (c >= 65 && c <= 90) c |= 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return (h ^ (h >>> 15)) & (SLOTS - 1);
}

/** Open-addressing table of commands keyed by case-folded name bytes. */
export class CommandTable {
  readonly #specs: (CommandSpec | undefined)[] = new Array(SLOTS);
  readonly #names: (Uint8Array | undefined)[] = new Array(SLOTS);
  #count = 0;

  /** Registers commands (names must be unique, lower-case ASCII). */
  register(specs: readonly CommandSpec[]): void {
    for (const spec of specs) {
      const name = new TextEncoder().encode(spec.name);
      if (name.length > MAX_NAME || spec.name !== spec.name.toLowerCase()) {
        throw new Error(`bad command name '${spec.name}'`);
      }
      if (this.lookup(name) !== undefined) throw new Error(`duplicate command '${spec.name}'`);
      if (++this.#count > SLOTS / 2) throw new Error("command table full");
      let i = foldHash(name);
      while (this.#specs[i] !== undefined) i = (i + 1) & (SLOTS - 1);
      this.#specs[i] = spec;
      this.#names[i] = name;
    }
  }

  /** The command named by `name` (ASCII case-insensitive), or undefined. */
  lookup(name: Uint8Array): CommandSpec | undefined {
    const n = name.length;
    if (n === 0 || n > MAX_NAME) return undefined;
    let i = foldHash(name);
    for (;;) {
      const cand = this.#names[i];
      if (cand === undefined) return undefined;
      if (cand.length === n) {
        let j = 0;
        for (; j < n; j++) {
          let c = name[j];
          if (c >= 65 && c <= 90) c |= 0x20;
          if (c !== cand[j]) break;
        }
        if (j === n) return this.#specs[i];
      }
      i = (i + 1) & (SLOTS - 1);
    }
  }

  /** Every registered spec (registration order is not preserved). */
  all(): CommandSpec[] {
    return this.#specs.filter((s): s is CommandSpec => s !== undefined);
  }
}
