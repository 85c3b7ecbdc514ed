/**
 * The `wal` plugin: durable storage for a TinyKV node (segmented CRC-framed write-ahead log,
 * hard state and membership records, atomic snapshot files). Load it with `--plugins wal`;
 * it keeps its files in `data_dir` and takes the options `wal_fsync` (always | batch | off) and
 * `wal_segment_bytes` (declared below).
 * @module
 */
import { Histogram } from "prom-client";
import { definePlugin, type PluginContext } from "../../core/plugin/plugin.ts";
import { openWal, type WalObservers } from "./wal.ts";

/** Buckets (seconds) of the WAL's fsync and snapshot histograms. */
const DURATION_BUCKETS = [
  0.0001,
  0.0005,
  0.001,
  0.002,
  0.004,
  0.008,
  0.016,
  0.032,
  0.064,
  0.128,
  0.256,
  0.512,
  1.024,
  2.048,
  4.096,
  8.192,
];

/** A histogram in the node's registry (reused when the storage is opened again on the same node). */
function histogram(ctx: PluginContext, name: string, help: string): Histogram {
  const old = ctx.metrics.getSingleMetric(name);
  if (old) return old as Histogram;
  return new Histogram({ name, help, buckets: DURATION_BUCKETS, registers: [ctx.metrics] });
}

/** A group commit at least this slow is reported (see {@link walObservers}). */
export const SLOW_FSYNC_MS = 100;
/** At most one slow-fsync warning per this many ms (it counts the ones in between). */
export const SLOW_FSYNC_REPORT_MS = 10_000;

/**
 * `tinykv_wal_fsync_duration_seconds` and `tinykv_snapshot_save_duration_seconds`, fed by the WAL,
 * and a warning when group commits take {@link SLOW_FSYNC_MS} or more (at most one per
 * {@link SLOW_FSYNC_REPORT_MS}, with how many and the slowest): while a Ready round waits for its
 * fsync no new round runs: heartbeats still go out (core/node/ready.ts), but commits and replies
 * wait for the disk (etcd warns about slow fdatasync for the same reason).
 */
export function walObservers(ctx: PluginContext): WalObservers {
  const fsync = histogram(
    ctx,
    "tinykv_wal_fsync_duration_seconds",
    "WAL group commit: fdatasync of the open segment(s), seconds",
  );
  const snapshot = histogram(
    ctx,
    "tinykv_snapshot_save_duration_seconds",
    "Saving a locally taken snapshot (write, fsync, rename, compact), seconds",
  );
  let slow = 0;
  let worst = 0;
  let reported = -Infinity;
  const slowFsync = (ms: number) => {
    slow++;
    if (ms > worst) worst = ms;
    const now = ctx.clock.monoMs();
    if (now - reported < SLOW_FSYNC_REPORT_MS) return;
    ctx.logger.warn(
      `slow fsync: ${slow} group commit(s) took ${SLOW_FSYNC_MS} ms or more` +
        `${Number.isFinite(reported) ? " since the last report" : ""}, the slowest ` +
        `${
          Math.round(worst)
        } ms (election timeout ${ctx.config.election_timeout_ms} ms): commits wait for ` +
        "the disk; is it shared or saturated?",
    );
    slow = 0;
    worst = 0;
    reported = now;
  };
  return {
    nowMs: () => ctx.clock.monoMs(),
    fsyncSeconds: (s) => {
      fsync.observe(s);
      if (s * 1000 >= SLOW_FSYNC_MS) slowFsync(s * 1000);
    },
    snapshotSeconds: (s) => snapshot.observe(s),
  };
}

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
      observe: walObservers(ctx),
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
