/**
 * The built-in plugins, imported statically so that bundlers (`bun build --compile`,
 * `deno compile`) see them and a single binary carries them: `core/plugin/loader.ts` looks names
 * up here instead of importing a computed URL.
 * @module
 */
import * as coalesce from "./coalesce/mod.ts";
import * as idempotency from "./idempotency/mod.ts";
import * as metrics from "./metrics/mod.ts";
import * as wal from "./wal/mod.ts";

/** Built-in plugin name → its module's exports. */
export const BUILTIN_MODULES: Readonly<Record<string, Record<string, unknown>>> = {
  wal,
  metrics,
  idempotency,
  coalesce,
};
