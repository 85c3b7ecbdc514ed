/**
 * Deno side of the KV conformance test (tests/kv/conformance.test.ts spawns it with
 * `deno run --unstable-kv -A`): plays the seeded operations against `Deno.openKv(":memory:")` —
 * the reference — and against TinyKV's `openKv` on the node at `--port`, and prints both results
 * as one JSON line: `{ "deno": [...], "tinykv": [...] }`.
 *
 * Usage: deno run --unstable-kv -A tests/kv/deno_driver.ts <seed> <ops> <port>
 *
 * With `order <seed> <n>` instead: stores `genKeys(seed, n)` in Deno KV and prints the keys as
 * `list({ prefix: [] })` returns them (normalised), for the key-order test. With `watch <port>`:
 * runs tests/kv/ops.ts's watch script against both stores and prints `{ deno, tinykv }`.
 */
import { KvU64, openKv } from "../../mod.ts";
import {
  genKeys,
  genOps,
  type KvLike,
  norm,
  runOps,
  runWatchScript,
  type U64Ctor,
  type WatchKvLike,
} from "./ops.ts";

/** The part of Deno's unstable KV API used here (typed locally: it needs --unstable-kv). */
interface DenoKvApi {
  openKv(path: string): Promise<WatchKvLike & { close(): void }>;
  KvU64: U64Ctor;
}

const api = Deno as unknown as DenoKvApi;
if (Deno.args[0] === "order") {
  const ref = await api.openKv(":memory:");
  for (const k of genKeys(Number(Deno.args[1]), Number(Deno.args[2]))) await ref.set(k, 0);
  const keys: unknown[] = [];
  for await (const e of ref.list({ prefix: [] })) keys.push(norm([...e.key], api.KvU64));
  ref.close();
  console.log(JSON.stringify(keys));
  Deno.exit(0);
}
if (Deno.args[0] === "watch") {
  const ref = await api.openKv(":memory:");
  const deno = await runWatchScript(ref, api.KvU64);
  ref.close();
  const kv = await openKv({ port: Number(Deno.args[1]) });
  const tinykv = await runWatchScript(kv as unknown as WatchKvLike, KvU64);
  kv.close();
  console.log(JSON.stringify({ deno, tinykv }));
  Deno.exit(0);
}
const [seed, n, port] = Deno.args.map(Number);
const ops = genOps(seed, n);
const ref = await api.openKv(":memory:");
const deno = await runOps(ref, ops, api.KvU64);
ref.close();
const kv = await openKv({ port });
const tinykv = await runOps(kv as unknown as KvLike, ops, KvU64);
kv.close();
console.log(JSON.stringify({ deno, tinykv }));
