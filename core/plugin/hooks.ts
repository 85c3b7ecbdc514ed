/**
 * The hook bus: runs plugins' hooks in order and attributes every failure to the plugin by name.
 * When no plugin has a hook, calling it costs one array-length check.
 * @module
 */
import type {
  BatchDecision,
  BatchResult,
  ClientBatch,
  CommittedEntry,
  Plugin,
  PluginContext,
  PluginSnapshotJob,
  ProposedEntry,
} from "./plugin.ts";
import type { Logger } from "../config/logger.ts";

/** A plugin failure, naming the plugin and the hook. */
export class PluginError extends Error {
  readonly plugin: string;
  readonly hook: string;
  constructor(plugin: string, hook: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`plugin "${plugin}" failed in ${hook}: ${msg}`);
    this.name = "PluginError";
    this.plugin = plugin;
    this.hook = hook;
    this.cause = cause;
  }
}

type Bound = { plugin: Plugin; ctx: PluginContext };

function order(p: Plugin): number {
  return p.enforce === "pre" ? 0 : p.enforce === "post" ? 2 : 1;
}

/** Runs hooks of a fixed, ordered list of plugins. */
export class HookBus {
  readonly plugins: readonly Plugin[];
  readonly #all: Bound[];
  readonly #onBatch: Bound[];
  readonly #onPropose: Bound[];
  readonly #onCommit: Bound[];
  readonly #beforeApply: Bound[];
  readonly #onApply: Bound[];
  readonly #log: Logger;

  /** @param contextFor builds the context a plugin receives (its own logger, shared node view) */
  constructor(plugins: readonly Plugin[], contextFor: (p: Plugin) => PluginContext, log: Logger) {
    const seen = new Set<string>();
    for (const p of plugins) {
      if (seen.has(p.name)) throw new Error(`plugin "${p.name}" is loaded twice`);
      seen.add(p.name);
    }
    // Stable sort: pre, normal, post; otherwise the order given.
    this.plugins = plugins.map((p, i) => ({ p, i })).sort((a, b) =>
      order(a.p) - order(b.p) || a.i - b.i
    )
      .map((x) => x.p);
    this.#all = this.plugins.map((plugin) => ({ plugin, ctx: contextFor(plugin) }));
    const having = (k: keyof Plugin) => this.#all.filter((b) => typeof b.plugin[k] === "function");
    this.#onBatch = having("onBatch");
    this.#onPropose = having("onPropose");
    this.#onCommit = having("onCommit");
    this.#beforeApply = having("beforeApply");
    this.#onApply = having("onApply");
    this.#log = log;
  }

  /** True when some plugin has an onCommit hook (the node skips decoding otherwise). */
  get wantsCommit(): boolean {
    return this.#onCommit.length > 0;
  }

  /** True when some plugin inspects entries at apply time. */
  get wantsApply(): boolean {
    return this.#onApply.length > 0 || this.#beforeApply.length > 0;
  }

  /** Runs `setup` of every plugin in order; the first failure aborts start-up. */
  async setup(): Promise<void> {
    for (const { plugin, ctx } of this.#all) {
      if (!plugin.setup) continue;
      try {
        await plugin.setup(ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "setup", err);
      }
    }
  }

  /** Runs `start` of every plugin in order. */
  async start(): Promise<void> {
    for (const { plugin, ctx } of this.#all) {
      if (!plugin.start) continue;
      try {
        await plugin.start(ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "start", err);
      }
    }
  }

  /** Runs `stop` of every plugin in reverse order; failures are logged, never thrown. */
  async stop(): Promise<void> {
    for (const { plugin, ctx } of [...this.#all].reverse()) {
      if (!plugin.stop) continue;
      try {
        await plugin.stop(ctx);
      } catch (err) {
        this.#log.error(new PluginError(plugin.name, "stop", err).message);
      }
    }
  }

  /** The plugin that provides storage, if any (at most one). */
  storageProvider(): Bound | undefined {
    const s = this.#all.filter((b) => typeof b.plugin.storage === "function");
    if (s.length > 1) {
      throw new Error(
        `plugins ${s.map((b) => `"${b.plugin.name}"`).join(" and ")} both provide storage`,
      );
    }
    return s[0];
  }

  /**
   * Runs `onBatch` hooks until one decides. Synchronous when every hook is; a throwing hook
   * becomes a PluginError (the server answers INTERNAL naming the plugin).
   */
  onBatch(batch: ClientBatch): BatchDecision | Promise<BatchDecision> {
    const hooks = this.#onBatch;
    for (let i = 0; i < hooks.length; i++) {
      const { plugin, ctx } = hooks[i];
      let d: BatchDecision | Promise<BatchDecision>;
      try {
        d = plugin.onBatch!(batch, ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "onBatch", err);
      }
      if (d instanceof Promise) return this.#onBatchAsync(batch, i, d);
      if (d) return d;
    }
    return undefined;
  }

  async #onBatchAsync(
    batch: ClientBatch,
    i: number,
    first: Promise<BatchDecision>,
  ): Promise<BatchDecision> {
    const hooks = this.#onBatch;
    let d: BatchDecision;
    try {
      d = await first;
    } catch (err) {
      throw new PluginError(hooks[i].plugin.name, "onBatch", err);
    }
    if (d) return d;
    for (let k = i + 1; k < hooks.length; k++) {
      const { plugin, ctx } = hooks[k];
      try {
        d = await plugin.onBatch!(batch, ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "onBatch", err);
      }
      if (d) return d;
    }
    return undefined;
  }

  /** Runs `onPropose`; throws PluginError (the entry's batches fail with INTERNAL). */
  onPropose(entry: ProposedEntry): void {
    for (const { plugin, ctx } of this.#onPropose) {
      try {
        plugin.onPropose!(entry, ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "onPropose", err);
      }
    }
  }

  /** Runs `onCommit`; failures are logged (the entry is committed regardless). */
  onCommit(entry: CommittedEntry): void {
    for (const { plugin, ctx } of this.#onCommit) {
      try {
        plugin.onCommit!(entry, ctx);
      } catch (err) {
        this.#log.error(new PluginError(plugin.name, "onCommit", err).message);
      }
    }
  }

  /**
   * Runs `beforeApply` until one returns results. A throwing hook is logged and treated as "no
   * decision", identically on every replica, so committed state stays consistent.
   */
  beforeApply(batch: ClientBatch, entry: CommittedEntry): BatchResult | undefined {
    for (const { plugin, ctx } of this.#beforeApply) {
      try {
        const r = plugin.beforeApply!(batch, entry, ctx);
        if (r) return r;
      } catch (err) {
        this.#log.error(new PluginError(plugin.name, "beforeApply", err).message);
      }
    }
    return undefined;
  }

  /** Runs `onApply`; failures are logged and never undo the apply. */
  onApply(entry: CommittedEntry, results: readonly BatchResult[]): void {
    for (const { plugin, ctx } of this.#onApply) {
      try {
        plugin.onApply!(entry, results, ctx);
      } catch (err) {
        this.#log.error(new PluginError(plugin.name, "onApply", err).message);
      }
    }
  }

  /**
   * Snapshots of every plugin with replicated state, by plugin name: bytes, or a job still to be
   * stepped (plugins with `snapshotInSteps`). Taken together, at one applied index.
   */
  snapshot(): Record<string, Uint8Array | PluginSnapshotJob> {
    const out: Record<string, Uint8Array | PluginSnapshotJob> = {};
    for (const { plugin, ctx } of this.#all) {
      if (!plugin.snapshot && !plugin.snapshotInSteps) continue;
      try {
        out[plugin.name] = plugin.snapshotInSteps
          ? named(plugin.name, plugin.snapshotInSteps(ctx))
          : plugin.snapshot!(ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "snapshot", err);
      }
    }
    return out;
  }

  /** Restores plugin state from a snapshot; plugins absent from it start empty. */
  restore(states: Record<string, Uint8Array>): void {
    for (const { plugin, ctx } of this.#all) {
      const s = states[plugin.name];
      if (!plugin.restore || s === undefined) continue;
      try {
        plugin.restore(s, ctx);
      } catch (err) {
        throw new PluginError(plugin.name, "restore", err);
      }
    }
  }
}

/** `job` with its failures reported under the plugin's name. */
function named(name: string, job: PluginSnapshotJob): PluginSnapshotJob {
  return {
    step(budget) {
      try {
        return job.step(budget);
      } catch (err) {
        throw new PluginError(name, "snapshot", err);
      }
    },
    finish() {
      try {
        return job.finish();
      } catch (err) {
        throw new PluginError(name, "snapshot", err);
      }
    },
  };
}
