/**
 * The failover scenario's driver: while the workers run batch-100 load against a started cluster,
 * it asks the nodes for the leader (`GET_LEADER`), kills that child process with SIGKILL a third
 * of the way in, keeps the load running, and measures how long writes were unavailable.
 *
 * Metrics (all times on the benchmark's `performance.now()` clock, in ms):
 * - `unavailableMs` — **kill → first acknowledgement from the new leader**: from the moment
 *   SIGKILL is sent to the first round trip that completes with at least one command answered
 *   OK, by a client whose current endpoint is no longer the killed node. This is the headline
 *   figure ("failover ms").
 * - `ackGapMs` — **longest gap between consecutive acknowledgements around the kill**: over the
 *   acknowledgements from the last one before the kill up to the first one from the new leader
 *   (any client), the longest interval between two consecutive ones. It includes the time between
 *   the last ack and the kill, so it is what an application sees as "writes stalled".
 * - `electionMs` — kill → a surviving node answers `GET_LEADER` with a new leader (polled every
 *   ~5 ms on the probes' direct connections).
 * - `maxAckGapMs` — the longest gap between consecutive acknowledgements over the whole run.
 * @module
 */
import type { Client } from "../../client/types.ts";
import type { RunningCluster } from "./cluster.ts";
import { findLeader, type NodeProbe } from "./info.ts";
import type { RunControl, ScenarioResult } from "./runner.ts";

/** What the failover scenario reports (JSON `failover`; summarised in the failover table). */
export interface FailoverReport {
  killedNode: number | null;
  killedPid: number | null;
  /** When the leader was killed, ms after the scenario started. */
  killAtMs: number | null;
  newLeader: number | null;
  electionMs: number | null;
  /** Kill → first acknowledged round trip answered by a surviving node (null: never, see cap). */
  unavailableMs: number | null;
  /** Longest gap between consecutive acks from the last ack before the kill to the first new one. */
  ackGapMs: number | null;
  /** The last acknowledgement before the kill came this long before it. */
  lastAckBeforeKillMs: number | null;
  /** Longest gap between consecutive acks over the whole scenario. */
  maxAckGapMs: number;
  /** Commands that failed after the kill (TIMEOUT, UNAVAILABLE, lost connection, ...). */
  failedOpsAfterKill: number;
  /** Throughput before the kill and after the first new-leader ack. */
  opsPerSecBefore: number;
  opsPerSecAfter: number;
  /** How long the bench waited at most for the first new-leader ack after the kill. */
  capMs: number;
  /** Why the scenario could not fail over, if it could not. */
  error: string | null;
}

/** Settings of one failover run. */
export interface FailoverOptions {
  cluster: RunningCluster;
  probes: readonly NodeProbe[];
  /** The scenario's nominal duration. */
  durationMs: number;
  /** Longest wait for the first ack from the new leader after the kill. */
  capMs: number;
  /** Called with a human-readable note (kill, new leader, recovery). */
  note: (text: string) => void;
}

/** A failover driver plus the ack hook the runner calls; `report()` after the scenario. */
export interface Failover {
  onAck: (at: number, client: Client) => void;
  driver: (ctl: RunControl) => Promise<void>;
  report(result: ScenarioResult): FailoverReport;
}

const r1 = (ms: number) => Math.round(ms * 10) / 10;

/** Creates the driver for one failover scenario. */
export function createFailover(opts: FailoverOptions): Failover {
  let startedAt = 0;
  let lastAck: number | null = null;
  let maxAckGap = 0;
  let killAt: number | null = null;
  let killedNode: number | null = null;
  let killedPid: number | null = null;
  let killedEndpoints = new Set<string>();
  let lastAckBeforeKill: number | null = null;
  let gapAround = 0;
  let firstNewAck: number | null = null;
  let electedAt: number | null = null;
  let newLeader: number | null = null;
  let opsAtKill = 0;
  let errorsAtKill = 0;
  let opsAtRecovery = 0;
  let error: string | null = null;
  let gaveUp = false;
  let recovered: () => void = () => {};
  const recoveredP = new Promise<void>((r) => (recovered = r));
  let live: RunControl["live"] | null = null;

  const onAck = (at: number, client: Client) => {
    if (lastAck !== null && at - lastAck > maxAckGap) maxAckGap = at - lastAck;
    if (killAt === null) {
      lastAckBeforeKill = at;
    } else if (firstNewAck === null && !gaveUp) {
      const prev = lastAck ?? killAt;
      if (at - prev > gapAround) gapAround = at - prev;
      if (at > killAt && !killedEndpoints.has(client.endpoint)) {
        firstNewAck = at;
        opsAtRecovery = live?.ops ?? 0;
        recovered();
      }
    }
    lastAck = at;
  };

  const driver = async (ctl: RunControl) => {
    startedAt = ctl.startedAt;
    live = ctl.live;
    const killDelay = Math.max(opts.durationMs / 3, 200);
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + killDelay - performance.now())));
    if (ctl.finished) return;
    const leader = await findLeader(opts.probes, 5000);
    if (!leader) {
      error = "no leader found before the kill";
      opts.note(`failover: ${error}`);
      return;
    }
    const node = opts.cluster.nodes.find((n) => n.id === leader.id);
    if (!node) {
      error = `leader ${leader.id} is not one of the started nodes`;
      opts.note(`failover: ${error}`);
      return;
    }
    killedNode = node.id;
    killedPid = node.pid;
    killedEndpoints = new Set([node.endpoint, node.advertised]);
    opsAtKill = ctl.live.ops;
    errorsAtKill = ctl.live.errors;
    // Keep the load running until the new leader answered (or the cap), whatever the duration.
    ctl.setDeadline(performance.now() + opts.capMs + 1000);
    killAt = performance.now();
    const exited = opts.cluster.kill(node.id, "SIGKILL");
    opts.note(
      `failover: killed leader node ${node.id} (pid ${node.pid}) with SIGKILL at ` +
        `${((killAt - startedAt) / 1000).toFixed(2)} s`,
    );
    const survivors = opts.probes.filter((p) => p.id !== node.id);
    const election = findLeader(survivors, opts.capMs, node.id).then((l) => {
      if (l) {
        electedAt = performance.now();
        newLeader = l.id;
      }
    });
    let capTimer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((r) => (capTimer = setTimeout(r, opts.capMs)));
    await Promise.race([recoveredP, cap]);
    clearTimeout(capTimer);
    if (firstNewAck === null) gaveUp = true;
    await Promise.all([exited, election]);
    if (firstNewAck === null) {
      error = `no acknowledgement from a new leader within ${opts.capMs} ms of the kill`;
      opts.note(`failover: ${error}`);
      ctl.setDeadline(performance.now());
      return;
    }
    opts.note(
      `failover: new leader node ${newLeader ?? "?"} elected after ` +
        `${electedAt === null ? "?" : (electedAt - killAt).toFixed(0)} ms; first ack from it ` +
        `${(firstNewAck - killAt).toFixed(0)} ms after the kill`,
    );
    // Measure the new leader for at least a second (and until the nominal duration).
    const postMs = Math.max(1000, opts.durationMs / 3);
    ctl.setDeadline(Math.max(startedAt + opts.durationMs, firstNewAck + postMs));
  };

  const report = (result: ScenarioResult): FailoverReport => {
    const endAt = startedAt + result.durationS * 1000;
    return {
      killedNode,
      killedPid,
      killAtMs: killAt === null ? null : r1(killAt - startedAt),
      newLeader,
      electionMs: killAt === null || electedAt === null ? null : r1(electedAt - killAt),
      unavailableMs: killAt === null || firstNewAck === null ? null : r1(firstNewAck - killAt),
      ackGapMs: firstNewAck === null ? null : r1(gapAround),
      lastAckBeforeKillMs: killAt === null || lastAckBeforeKill === null
        ? null
        : r1(killAt - lastAckBeforeKill),
      maxAckGapMs: r1(maxAckGap),
      failedOpsAfterKill: killAt === null ? 0 : result.errors - errorsAtKill,
      opsPerSecBefore: killAt === null ? 0 : Math.round(opsAtKill / ((killAt - startedAt) / 1000)),
      opsPerSecAfter: firstNewAck === null || endAt <= firstNewAck
        ? 0
        : Math.round((result.ops - opsAtRecovery) / ((endAt - firstNewAck) / 1000)),
      capMs: opts.capMs,
      error,
    };
  };

  return { onAck, driver, report };
}
