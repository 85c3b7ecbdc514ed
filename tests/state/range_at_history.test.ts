/**
 * RANGE ... AT rev with the watch history kept (as every node keeps it): a page at any retained
 * revision is answered from the history's previous states — exactly the page at that revision —
 * instead of ABORTED whenever something in the range changed since (#13 item 3: "consistent at one
 * revision across pages, while that revision is retained"). Random writes, deletes, renames,
 * expiries, lists and FLUSHALLs over a small binary keyspace; after each step a RANGE AT a random
 * recent revision must equal the page computed from a copy of the state at that revision. ABORTED
 * is allowed only where the history cannot tell (a FLUSHALL since, or an expiry that has passed).
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { WatchHistory } from "../../core/state/watch_history.ts";
import { Harness, prng } from "./harness.ts";
import { binKey, bytes, page, readOn, type Row, stateNow } from "./range_model.ts";

for (const expiries of [false, true]) {
  test(`AT answers the page at any retained revision (${expiries ? "with" : "no"} expiries)`, () => {
    for (const seed of [1, 2, 3, 4]) {
      const rnd = prng(seed);
      const h = new Harness();
      h.sm.keepHistory!(new WatchHistory({ revisions: 100_000, bytes: 1 << 30 }));
      const key = () => binKey(rnd);
      const states: Map<string, Row>[] = [new Map()];
      const write = (...a: (string | Uint8Array)[]) => {
        h.run(...a);
        h.sm.commitHistory!(h.ctx.index);
      };
      const read = (...a: (string | Uint8Array)[]) => readOn(h, ...a);
      let answered = 0;
      let allowed = 0; // reads with no FLUSHALL after their revision
      let lastFlush = 0;
      for (let step = 0; step < 1500; step++) {
        const x = rnd();
        if (x < 0.5) write("SET", bytes(key()), String(step));
        else if (x < 0.65) write("DEL", bytes(key()));
        else if (x < 0.75) write("RENAME", bytes(key()), bytes(key()));
        else if (x < 0.85 && expiries) {
          write("SET", bytes(key()), "e", "PX", String(1 + Math.floor(rnd() * 50)));
        } else if (x < 0.855) {
          write("FLUSHALL");
          lastFlush = h.ctx.index;
        } else write("RPUSH", bytes(key()), "x");
        if (expiries && rnd() < 0.3) h.advance(Math.floor(rnd() * 20));
        states[h.ctx.index] = stateNow(h);
        const at = Math.max(0, h.ctx.index - Math.floor(rnd() * 40));
        const limit = 1 + Math.floor(rnd() * 6);
        const rev = rnd() < 0.5;
        const lo = rnd() < 0.2 ? "" : key();
        const hi = rnd() < 0.3 ? null : key();
        const args = [
          "RANGE",
          bytes(lo),
          bytes(hi ?? ""),
          "LIMIT",
          String(limit),
          "AT",
          String(at),
        ];
        if (rev) args.push("REV");
        const r = read(...args);
        if (at >= lastFlush) allowed++;
        if (r.code === Code.OK) {
          answered++;
          expect(r.value).toEqual(page(states[at] ?? new Map(), lo, hi, limit, rev));
        } else expect(r.code).toBe(Code.ABORTED);
      }
      // Without expiries every read after the last FLUSHALL is answered; with them, most.
      if (!expiries) expect(answered).toBeGreaterThanOrEqual(allowed);
      else expect(answered).toBeGreaterThan(allowed * 0.5);
    }
  });
}
