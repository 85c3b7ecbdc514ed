/**
 * Loads plugins by built-in name (`wal`, `metrics`, `idempotency`, `coalesce`) or by module
 * specifier (`./my-plugin.ts`, `/abs/path.ts`, `npm:tinykv-plugin-x`, a package name). Load-time
 * errors name the plugin that failed. `loadPlugins` always adds the core plugins
 * (`idempotency`: exactly-once for client retries), so `--plugins` lists optional plugins only.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { optionPrefix, type Plugin, pluginOptionSpecs } from "./plugin.ts";
import { RUNTIME } from "../../transports/runtime.ts";
import { BUILTIN_MODULES } from "../../plugins/builtin.ts";

/**
 * Built-in plugins: name → module exports. Imported statically (plugins/builtin.ts), not by a
 * computed URL, so a bundled single binary (`bun build --compile`) carries them.
 */
export const BUILTIN_PLUGINS: Readonly<Record<string, Record<string, unknown>>> = BUILTIN_MODULES;

/** A plugin could not be loaded; the message names it. */
export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginLoadError";
  }
}

function isModuleSpecifier(s: string): boolean {
  return s.startsWith(".") || s.startsWith("/") || isAbsolute(s) || s.includes(":") ||
    s.includes("/") ||
    /\.(ts|js|mjs)$/.test(s);
}

function isPlugin(x: unknown): x is Plugin {
  return typeof x === "object" && x !== null && typeof (x as Plugin).name === "string" &&
    (x as Plugin).name !== "";
}

/** Resolves a specifier to something `import()` accepts, relative to `cwd` for paths. */
function importTarget(spec: string, cwd: string): string {
  if (spec.startsWith("file:")) return spec;
  if (spec.startsWith(".") || spec.startsWith("/") || isAbsolute(spec)) {
    return pathToFileURL(resolve(cwd, spec)).href;
  }
  // `npm:pkg` works natively on Deno; elsewhere it means the installed package `pkg`.
  if (spec.startsWith("npm:") && RUNTIME !== "deno") return spec.slice(4).replace(/@[^/@]+$/, "");
  return spec;
}

/** Turns a module's exports into a plugin: `default` (object or factory), or a `plugin` export. */
async function fromModule(mod: Record<string, unknown>, label: string): Promise<Plugin> {
  let p: unknown = mod.default ?? mod.plugin;
  if (typeof p === "function") p = await (p as () => unknown)();
  if (!isPlugin(p)) {
    throw new PluginLoadError(
      `plugin ${label}: the module must export default definePlugin({ name, ... }) (or a function returning one)`,
    );
  }
  try {
    pluginOptionSpecs(p); // a plain object (not made by definePlugin) is checked here
  } catch (err) {
    throw new PluginLoadError(`plugin ${label}: ${(err as Error).message}`);
  }
  return p;
}

/** Loads one plugin by built-in name or module specifier. */
export async function loadPlugin(spec: string, cwd: string): Promise<Plugin> {
  if (Object.hasOwn(BUILTIN_PLUGINS, spec)) {
    return await fromModule(BUILTIN_PLUGINS[spec], `"${spec}"`);
  }
  if (!isModuleSpecifier(spec)) {
    throw new PluginLoadError(
      `unknown plugin "${spec}" (built-in plugins: ${Object.keys(BUILTIN_PLUGINS).join(", ")}; ` +
        `or give a module path like ./my-plugin.ts)`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(importTarget(spec, cwd));
  } catch (err) {
    throw new PluginLoadError(
      `plugin "${spec}": cannot load module: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  return await fromModule(mod, `"${spec}"`);
}

/**
 * Plugins every node loads whatever `--plugins` says: `idempotency` makes a retried write
 * deduplicate (exactly-once by default; the client library resends after a lost connection).
 * Listing it is allowed and changes nothing but its position in the hook order.
 */
export const CORE_PLUGINS: readonly string[] = ["idempotency"];

/**
 * Loads the core plugins plus every plugin in `specs`, in order (a core plugin not listed comes
 * first). `none` stands for "no optional plugins" (`--plugins none`).
 */
export async function loadPlugins(specs: readonly string[], cwd: string): Promise<Plugin[]> {
  const listed = specs.map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
  const all = [...CORE_PLUGINS.filter((c) => !listed.includes(c)), ...listed];
  const out: Plugin[] = [];
  for (const s of all) out.push(await loadPlugin(s, cwd));
  return out;
}

/**
 * The built-in plugin that declares option `key` (full name, e.g. `wal_fsync` → `wal`), if any:
 * lets a flag of a plugin that is not loaded say which plugin it needs.
 */
export async function builtinPluginDeclaring(key: string): Promise<string | undefined> {
  for (const name of Object.keys(BUILTIN_PLUGINS)) {
    if (!key.startsWith(optionPrefix(name) + "_")) continue;
    try {
      const p = await loadPlugin(name, ".");
      if (pluginOptionSpecs(p).some((o) => o.key === key)) return name;
    } catch {
      // A built-in that cannot load declares nothing here; loading it reports why.
    }
  }
  return undefined;
}
