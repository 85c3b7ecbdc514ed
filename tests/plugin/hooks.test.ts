import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { HookBus, PluginError } from "../../core/plugin/hooks.ts";
import { createLogger } from "../../core/config/logger.ts";
import {
  type ClientBatch,
  type CommittedEntry,
  definePlugin,
  type Plugin,
} from "../../core/plugin/plugin.ts";
import { loadPlugin, loadPlugins, PluginLoadError } from "../../core/plugin/loader.ts";
import { fakeContext } from "../helpers/fake_context.ts";

const batch: ClientBatch = {
  clientId: "c",
  batchId: "b",
  commands: new Uint8Array([0x80]),
  count: 0,
};
const entry: CommittedEntry = {
  index: 1,
  term: 1,
  nowMs: 0,
  batches: [batch],
  raw: { index: 1, term: 1, type: 0, data: new Uint8Array() },
};

function bus(plugins: Plugin[], logs: string[] = []) {
  const log = createLogger("debug", "", (l) => logs.push(l));
  return new HookBus(plugins, () => fakeContext(), log);
}

test("hooks run in order with pre/post enforcement; the first decision wins", () => {
  const calls: string[] = [];
  const mk = (name: string, enforce?: "pre" | "post", decide?: boolean) =>
    definePlugin({
      name,
      enforce,
      onBatch() {
        calls.push(name);
        return decide ? { reject: { code: Code.BUSY, message: name } } : undefined;
      },
    });
  const b = bus([mk("post", "post"), mk("a"), mk("pre", "pre"), mk("b", undefined, true), mk("c")]);
  expect(b.plugins.map((p) => p.name)).toEqual(["pre", "a", "b", "c", "post"]);
  expect(b.onBatch(batch)).toEqual({ reject: { code: Code.BUSY, message: "b" } });
  expect(calls).toEqual(["pre", "a", "b"]);
});

test("async onBatch hooks are awaited in order", async () => {
  const b = bus([
    definePlugin({ name: "x", onBatch: () => Promise.resolve(undefined) }),
    definePlugin({ name: "y", onBatch: () => ({ defer: true as const }) }),
  ]);
  const d = b.onBatch(batch);
  expect(d).toBeInstanceOf(Promise);
  expect(await d).toEqual({ defer: true });
});

test("failures are attributed to the plugin by name; apply-side failures never throw", () => {
  const logs: string[] = [];
  const bad = definePlugin({
    name: "bad",
    onBatch() {
      throw new Error("nope");
    },
    onPropose() {
      throw new Error("nope");
    },
    onCommit() {
      throw new Error("c");
    },
    beforeApply() {
      throw new Error("d");
    },
    onApply() {
      throw new Error("e");
    },
  });
  const b = bus([bad], logs);
  expect(() => b.onBatch(batch)).toThrow(/plugin "bad" failed in onBatch: nope/);
  expect(() => b.onPropose({ batches: [batch], nowMs: 0, data: new Uint8Array() })).toThrow(
    PluginError,
  );
  b.onCommit(entry);
  expect(b.beforeApply(batch, entry)).toBeUndefined();
  b.onApply(entry, []);
  expect(logs.filter((l) => l.includes('plugin "bad" failed')).length).toBe(3);
});

test("duplicate names and two storage providers are refused", () => {
  expect(() => bus([definePlugin({ name: "a" }), definePlugin({ name: "a" })])).toThrow(
    /loaded twice/,
  );
  const s = () => {
    throw new Error("unused");
  };
  expect(() =>
    bus([definePlugin({ name: "a", storage: s }), definePlugin({ name: "b", storage: s })])
      .storageProvider()
  )
    .toThrow(/both provide storage/);
  expect(() => definePlugin({ name: "" })).toThrow(/non-empty name/);
});

test("setup failures name the plugin", async () => {
  const b = bus([
    definePlugin({ name: "s", setup: () => Promise.reject(new Error("bad config")) }),
  ]);
  await expect(b.setup()).rejects.toThrow(/plugin "s" failed in setup: bad config/);
});

test("loader: by path (factory export), unknown names, broken modules, not-a-plugin", async () => {
  const p = await loadPlugin("./tests/fixtures/counter-plugin.ts", process.cwd());
  expect(p.name).toBe("counter");
  await expect(loadPlugin("nosuch", process.cwd())).rejects.toThrow(
    /unknown plugin "nosuch" \(built-in plugins: wal, metrics, idempotency, coalesce/,
  );
  await expect(loadPlugin("./tests/fixtures/missing.ts", process.cwd())).rejects.toThrow(
    /plugin ".\/tests\/fixtures\/missing.ts": cannot load module/,
  );
  await expect(loadPlugin("./tests/fixtures/throws-at-load.ts", process.cwd())).rejects.toThrow(
    /boom at load/,
  );
  await expect(loadPlugin("./tests/fixtures/not-a-plugin.ts", process.cwd())).rejects.toThrow(
    PluginLoadError,
  );
  const builtins = await loadPlugins(["idempotency", "coalesce"], process.cwd());
  expect(builtins.map((x) => x.name)).toEqual(["idempotency", "coalesce"]);
});
