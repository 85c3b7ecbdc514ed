/**
 * The simulated disk's crash rules (tests/sim/sim_fs.ts): what survives a power loss is exactly
 * what the FileSystem interface promises — fsynced data, directory-synced names — and a random
 * prefix of the rest, possibly torn.
 */
import { expect, test } from "bun:test";
import { Prng } from "./prng.ts";
import { type Scope, SimScheduler } from "./sim_env.ts";
import { SimFs } from "./sim_fs.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function disk(seed = 1) {
  const sched = new SimScheduler();
  const fs = new SimFs(sched, new Prng(seed));
  const scope: Scope = { alive: true };
  return { sched, fs, scope, view: fs.open(scope) };
}

async function settle(sched: SimScheduler, p: Promise<void>): Promise<void> {
  let done = false;
  void p.then(() => done = true);
  await sched.runUntil(sched.now + 10, () => done);
  expect(done).toBe(true);
}

test("fsynced data and directory-synced names survive a crash", async () => {
  const { sched, fs, scope, view } = disk();
  view.mkdirp("/d");
  const fd = view.open("/d/a", "wx");
  view.write(fd, enc("hello"), 0, 5, 0);
  await settle(sched, view.fsync(fd));
  await settle(sched, view.syncDir("/d"));
  scope.alive = false;
  fs.crash();
  const v2 = fs.open({ alive: true });
  expect(v2.list("/d")).toEqual(["a"]);
  expect(dec(v2.readFile("/d/a"))).toBe("hello");
});

test("a file whose creation was never directory-synced can vanish, even with its data fsynced", async () => {
  let vanished = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const { sched, fs, scope, view } = disk(seed);
    view.mkdirp("/d");
    const fd = view.open("/d/a", "wx");
    view.write(fd, enc("x"), 0, 1, 0);
    await settle(sched, view.fsync(fd));
    scope.alive = false;
    fs.crash();
    if (!fs.open({ alive: true }).exists("/d/a")) vanished++;
  }
  expect(vanished).toBeGreaterThan(5);
  expect(vanished).toBeLessThan(40);
});

test("unsynced writes: a random prefix survives, the last may be torn, never later bytes without earlier ones", async () => {
  let torn = 0;
  let lost = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const { sched, fs, scope, view } = disk(seed);
    view.mkdirp("/d");
    const fd = view.open("/d/log", "wx");
    await settle(sched, view.fsync(fd));
    await settle(sched, view.syncDir("/d"));
    const parts = ["aaaa", "bbbb", "cccc"];
    let pos = 0;
    for (const p of parts) (view.write(fd, enc(p), 0, 4, pos), pos += 4);
    scope.alive = false;
    fs.crash();
    const got = dec(fs.open({ alive: true }).readFile("/d/log"));
    expect("aaaabbbbcccc".startsWith(got)).toBe(true);
    if (got.length % 4 !== 0) torn++;
    if (got.length < 12) lost++;
  }
  expect(torn).toBeGreaterThan(0);
  expect(lost).toBeGreaterThan(0);
});

test("a rename is atomic and durable after syncDir; a crashed incarnation's handle does nothing", async () => {
  const { sched, fs, scope, view } = disk(3);
  view.mkdirp("/d");
  const fd = view.open("/d/snap.tmp", "w");
  view.write(fd, enc("snap"), 0, 4, 0);
  await settle(sched, view.fsync(fd));
  view.close(fd);
  view.rename("/d/snap.tmp", "/d/snap");
  await settle(sched, view.syncDir("/d"));
  scope.alive = false;
  fs.crash();
  // The dead incarnation's writes are ignored and its fsyncs never resolve.
  view.remove("/d/snap");
  let resolved = false;
  void view.syncDir("/d").then(() => resolved = true);
  await sched.runUntil(sched.now + 10, () => resolved);
  expect(resolved).toBe(false);
  const v2 = fs.open({ alive: true });
  expect(v2.list("/d")).toEqual(["snap"]);
  expect(dec(v2.readFile("/d/snap"))).toBe("snap");
});

test("one incarnation holds the data-dir lock until it crashes", () => {
  const { fs, scope, view } = disk();
  view.mkdirp("/d");
  view.lock("/d");
  expect(() => fs.open({ alive: true }).lock("/d")).toThrow(/in use by another process/);
  scope.alive = false;
  fs.crash();
  expect(() => fs.open({ alive: true }).lock("/d")).not.toThrow();
});
