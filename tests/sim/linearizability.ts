/**
 * A linearizability checker for client histories (Wing & Gong's search with Lowe's memoization,
 * in the style of porcupine). Histories are partitioned by key and each partition is checked
 * separately against a sequential model.
 *
 * An operation has a call time and a return time; `ret = Infinity` means the outcome is unknown
 * (the client timed out): the operation may take effect at any point after its call, or never —
 * never is equivalent to "after everything else", which an infinite return time allows.
 * @module
 */

/** One client operation. */
export interface Operation<I, O> {
  /** Partition key (operations on different keys are independent). */
  key: string;
  input: I;
  /** Output; ignored by the model when the outcome is unknown. */
  output: O | undefined;
  call: number;
  /** Return time; `Infinity` when the outcome is unknown. */
  ret: number;
}

/** A sequential specification. */
export interface Model<S, I, O> {
  init(): S;
  /** Applies `input`; returns whether `output` is allowed (unknown output: always) and the new state. */
  step(state: S, input: I, output: O | undefined, unknown: boolean): { ok: boolean; state: S };
  /** A string identifying the state, for memoization. */
  hash(state: S): string;
}

/** Result of a check. */
export type CheckResult =
  | { ok: true }
  | { ok: false; key: string; reason: "not linearizable" | "search budget exhausted" };

interface Node<I, O> {
  id: number;
  isCall: boolean;
  op: Operation<I, O>;
  match: Node<I, O> | null; // call -> its return
  prev: Node<I, O> | null;
  next: Node<I, O> | null;
}

function lift<I, O>(call: Node<I, O>): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const r = call.match!;
  r.prev!.next = r.next;
  if (r.next) r.next.prev = r.prev;
}

function unlift<I, O>(call: Node<I, O>): void {
  const r = call.match!;
  r.prev!.next = r;
  if (r.next) r.next.prev = r;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** Checks one partition (all ops on one key). `budget` bounds the search steps. */
export function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  budget = 2_000_000,
): "ok" | "fail" | "budget" {
  const n = ops.length;
  if (n === 0) return "ok";
  // Build the event list: calls and returns sorted by time; on ties, returns after calls only if
  // strictly later, so equal times count as concurrent (calls first).
  type Ev = { t: number; isCall: boolean; i: number };
  const evs: Ev[] = [];
  for (let i = 0; i < n; i++) {
    evs.push({ t: ops[i].call, isCall: true, i });
    evs.push({ t: ops[i].ret, isCall: false, i });
  }
  evs.sort((a, b) => a.t - b.t || (a.isCall === b.isCall ? a.i - b.i : a.isCall ? -1 : 1));
  const head: Node<I, O> = {
    id: -1,
    isCall: false,
    op: ops[0],
    match: null,
    prev: null,
    next: null,
  };
  const calls: Node<I, O>[] = new Array(n);
  const rets: Node<I, O>[] = new Array(n);
  let tail = head;
  for (const ev of evs) {
    const node: Node<I, O> = {
      id: ev.i,
      isCall: ev.isCall,
      op: ops[ev.i],
      match: null,
      prev: tail,
      next: null,
    };
    tail.next = node;
    tail = node;
    if (ev.isCall) calls[ev.i] = node;
    else rets[ev.i] = node;
  }
  for (let i = 0; i < n; i++) calls[i].match = rets[i];

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const seen = new Set<string>();
  const stack: { call: Node<I, O>; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > budget) return "budget";
    if (entry === null) return "fail"; // cannot happen: a return always precedes the end
    if (entry.isCall) {
      const op = entry.op;
      const unknown = op.ret === Infinity;
      const r = model.step(state, op.input, op.output, unknown);
      if (r.ok) {
        bits[entry.id >>> 5] |= 1 << (entry.id & 31);
        const key = bits.join(",") + "|" + model.hash(r.state);
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = r.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        bits[entry.id >>> 5] &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: backtrack.
      const top = stack.pop();
      if (!top) return "fail";
      state = top.state;
      bits[top.call.id >>> 5] &= ~(1 << (top.call.id & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return "ok";
}

/** Checks a whole history, partitioned by `key`. */
export function checkHistory<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  budget?: number,
): CheckResult {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, list = []);
    list.push(op);
  }
  for (const [key, list] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const r = checkPartition(model, list, budget);
    if (r === "fail") return { ok: false, key, reason: "not linearizable" };
    if (r === "budget") return { ok: false, key, reason: "search budget exhausted" };
  }
  return { ok: true };
}

/** Register operations: write a value, or read one (`null` = never written). */
export type RegisterInput = { kind: "put"; value: string } | { kind: "get" };

/** A read/write register model (one per key). */
export const registerModel: Model<string | null, RegisterInput, string | null> = {
  init: () => null,
  step(state, input, output, unknown) {
    if (input.kind === "put") return { ok: true, state: input.value };
    return { ok: unknown || output === state, state };
  },
  hash: (s) => (s === null ? "\u0000" : s),
};
