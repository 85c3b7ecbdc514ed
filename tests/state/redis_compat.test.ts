/**
 * The new commands' replies and error texts against Redis 7.0's own: `redis_golden.json` holds
 * what a real redis-server answered to the scripts in `compare_scripts.ts` (recorded with
 * `bun tests/state/compare_redis.ts --record`), so this test needs no Redis installed.
 */
import { describe, expect, test } from "bun:test";
import { Harness } from "./harness.ts";
import { normalise, parseLine, type R, SCRIPTS } from "./compare_scripts.ts";
import golden from "./redis_golden.json" with { type: "json" };

const want = golden as Record<string, R[]>;

describe("replies match Redis 7.0", () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    test(name, () => {
      const h = new Harness(undefined, Date.now());
      const exp = want[name];
      expect(exp.length).toBe(script.length);
      const diffs: string[] = [];
      script.forEach((line, i) => {
        const { random, sorted, args } = parseLine(line);
        h.ctx.nowMs = Date.now();
        const r = h.run(...args);
        if (random) return;
        const got = JSON.stringify(normalise(r.code, r.value, r.error, sorted));
        const redis = JSON.stringify(exp[i]);
        if (got !== redis) diffs.push(`${args.join(" ")}: tinykv ${got}, redis ${redis}`);
      });
      expect(diffs).toEqual([]);
    });
  }
});
