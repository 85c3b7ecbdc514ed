/**
 * Test-only tool (not part of the suite): runs command scripts through TinyKV's state machine and
 * a real `redis-server` (started here on a free loopback port, killed at the end) and prints every
 * reply that differs. Replies are normalised to text (integers and scores alike), so only
 * semantics are compared; commands marked `~` are random and only run (not compared), `@` ones
 * reply an unordered array (compared sorted).
 *
 *   bun tests/state/compare_redis.ts            # every script
 *   bun tests/state/compare_redis.ts --record   # also rewrite redis_golden.json (Redis's replies)
 *
 * The suite's `redis_compat.test.ts` checks the state machine against the recorded replies, so
 * it needs no redis-server.
 */
import { Harness } from "./harness.ts";
import { Code } from "../../protocol/codes.ts";
import { normalise, parseLine, type R, SCRIPTS } from "./compare_scripts.ts";
import { writeFileSync } from "node:fs";
import { startRedis } from "./redis_server.ts";

const record = process.argv.includes("--record");
const golden: Record<string, R[]> = {};

const { redis, stop } = await startRedis();
let diffs = 0;
let total = 0;
try {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    await redis.send(["FLUSHALL"]);
    const h = new Harness(undefined, Date.now());
    const rec: R[] = golden[name] = [];
    for (const line of script) {
      const { random, sorted, args } = parseLine(line);
      h.ctx.nowMs = Date.now();
      const r = h.run(...args);
      const mine = normalise(r.code, r.value, r.error, sorted);
      if (process.env.TRACE) console.log(args.join(" "));
      const theirs = await redis.send(args);
      total++;
      const b = JSON.stringify(normalise(Code.OK, theirs, null, sorted));
      rec.push(random ? null : JSON.parse(b));
      if (random) continue;
      const a = JSON.stringify(mine);
      if (a !== b) {
        diffs++;
        console.log(`[${name}] ${args.join(" ")}\n  tinykv: ${a}\n  redis:  ${b}`);
      }
    }
  }
} finally {
  stop();
}
console.log(`${total} commands, ${diffs} differences`);
if (record) {
  writeFileSync(
    new URL("./redis_golden.json", import.meta.url),
    JSON.stringify(golden, null, 0).replace(/\],"/g, '],\n"') + "\n",
  );
}
process.exit(diffs === 0 ? 0 : 1);
