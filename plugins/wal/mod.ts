/**
 * The `wal` plugin: durable storage for a TinyKV node (segmented CRC-framed write-ahead log,
 * hard state and membership records, atomic snapshot files). Load it with `--plugins wal`;
 * it keeps its files in `data_dir` and takes the options `wal_fsync` (always | batch | off) and
 * `wal_segment_bytes` (declared below).
 * @module
 */
import { definePlugin } from "../../core/plugin/plugin.ts";
import { openWal } from "./wal.ts";

export {
  openWal,
  type WalLogger,
  type WalOptions,
  type WalRecoveryInfo,
  WalStorage,
} from "./wal.ts";

const MiB = 1024 * 1024;

/** The plugin object (default export). */
const walPlugin = definePlugin({
  name: "wal",
  options: {
    fsync: {
      type: "enum",
      choices: ["always", "batch", "off"],
      default: "always",
      help:
        "wal fsync policy: always (ack after fsync), batch (fsync every 10 ms; may lose the last ms), off (no fsync)",
    },
    segment_bytes: {
      type: "int",
      default: 64 * MiB,
      min: 4096,
      max: 4096 * MiB,
      help: "wal segment size before rotation",
    },
  },
  async storage(opts, ctx) {
    const policy = ctx.options.fsync;
    const wal = await openWal(opts.dataDir, {
      fsync: policy,
      segmentBytes: ctx.options.segment_bytes,
      initialConf: opts.initialConf,
      logger: ctx.logger,
      fs: ctx.fs,
      scheduler: ctx.scheduler,
    });
    const r = wal.recovery;
    ctx.logger.info(
      `data in ${wal.dir} (fsync=${policy}, segments of ${ctx.options.segment_bytes} bytes): ` +
        `${r.segments} segment(s), log ${r.firstIndex}..${r.lastIndex}, snapshot at ${r.snapshotIndex}`,
    );
    const commit = wal.initialState().hardState.commit;
    if (commit > r.lastIndex) {
      // The hard state outlived entries it had seen committed: records were lost (a torn tail
      // under batch/off, or a disk that did not keep what it fsynced).
      ctx.logger.warn(
        `the log ends at ${r.lastIndex} but entries up to ${commit} were committed: this node lost ` +
          `${commit - r.lastIndex} acknowledged entries; the leader re-sends them (or a snapshot)`,
      );
    }
    if (policy === "batch") {
      ctx.logger.warn(
        "wal_fsync=batch: writes are acknowledged before fsync; a power loss may lose the last ~10 ms of acknowledged writes",
      );
    } else if (policy === "off") {
      ctx.logger.warn(
        "wal_fsync=off: the log is never fsynced; a machine crash can lose acknowledged writes (benchmarks only)",
      );
    }
    return wal;
  },
});

export default walPlugin;
