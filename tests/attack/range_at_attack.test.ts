/**
 * RANGE ... AT rev must never answer a wrong page: random writes, deletes, renames, expiries and
 * FLUSHALLs over a small binary keyspace, and after each step RANGE/RANGEPREFIX AT a random past
 * revision with random bounds, LIMIT and REV. Whenever AT answers, its page must equal the page
 * computed from a copy of the keyspace taken at that revision (ABORTED is always allowed).
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { Harness, prng } from "../state/harness.ts";
import { binKey, bytes, page, readOn, type Row, stateNow } from "../state/range_model.ts";

test("AT answers only pages that are exactly the page at that revision", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rnd = prng(seed);
    const h = new Harness();
    const key = () => binKey(rnd);
    const history: Map<string, Row>[] = [new Map()]; // state after revision i
    const read = (...a: (string | Uint8Array)[]) => readOn(h, ...a);
    let answered = 0;
    for (let step = 0; step < 1500; step++) {
      const x = rnd();
      if (x < 0.5) h.run("SET", bytes(key()), String(step));
      else if (x < 0.7) h.run("DEL", bytes(key()));
      else if (x < 0.8) h.run("RENAME", bytes(key()), bytes(key()));
      else if (x < 0.9) h.run("SET", bytes(key()), "e", "PX", String(1 + Math.floor(rnd() * 50)));
      else if (x < 0.905) h.run("FLUSHALL");
      else h.run("RPUSH", bytes(key()), "x");
      if (rnd() < 0.3) h.advance(Math.floor(rnd() * 20));
      history[h.ctx.index] = stateNow(h);
      const at = Math.max(0, h.ctx.index - Math.floor(rnd() * 30));
      const limit = 1 + Math.floor(rnd() * 6);
      const rev = rnd() < 0.5;
      const lo = rnd() < 0.2 ? "" : key();
      const hi = rnd() < 0.3 ? null : key();
      const args = ["RANGE", bytes(lo), bytes(hi ?? ""), "LIMIT", String(limit), "AT", String(at)];
      if (rev) args.push("REV");
      const r = read(...args);
      if (r.code === Code.OK) {
        answered++;
        const want = page(history[at] ?? new Map(), lo, hi, limit, rev);
        expect(r.value).toEqual(want);
      } else expect(r.code).toBe(Code.ABORTED);
    }
    console.log(`seed ${seed}: ${answered} of 1500 AT reads answered`);
    expect(answered).toBeGreaterThan(100);
  }
});
