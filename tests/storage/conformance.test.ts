// The storage conformance suite (testing.ts) against the built-in storages: in memory, and the
// wal plugin's (opened through the plugin, as a node does, under each fsync policy).
import { test } from "bun:test";
import { MemoryStorage } from "../../core/storage/memory.ts";
import walPlugin from "../../plugins/wal/mod.ts";
import { storageConformance } from "../../testing.ts";
import { fakeContext } from "../helpers/fake_context.ts";

storageConformance({
  name: "memory",
  open: (opts) => new MemoryStorage(opts.initialConf),
  test,
});

for (const fsync of ["always", "off"] as const) {
  storageConformance({
    name: `wal (fsync=${fsync})`,
    // Small segments: the reopen tests then cross segment files.
    open: (opts) =>
      walPlugin.storage!(
        opts,
        fakeContext({ wal_fsync: fsync, wal_segment_bytes: 65536 }, walPlugin),
      ),
    reopens: true, // fsync=off is not durable against a crash, but keeps its files on close
    test,
  });
}
