import { describe, expect, test } from "bun:test";
import { NewReno } from "../../transports/udp/new_reno.ts";
import type { CongestionEvent } from "../../transports/udp/new_reno.ts";
import { UdpEndpoint } from "../../transports/udp/endpoint.ts";
import { makeMessage, Recorder, SimNetwork } from "./sim_network.ts";

interface TracePoint {
  now: number;
  cwnd: number;
  ssthresh: number;
  event: CongestionEvent;
}

const LIMITS = {
  maxDatagramBytes: 1200,
  initialWindowPackets: 10,
  minimumWindowPackets: 2,
  maximumWindowBytes: 1_000_000,
};

describe("NewReno unit", () => {
  test("slow start adds acked bytes, avoidance adds one datagram per window", () => {
    const cc = new NewReno(LIMITS);
    expect(cc.cwnd).toBe(12_000);
    for (let i = 0; i < 10; i++) cc.onSent(1200);
    for (let i = 0; i < 10; i++) cc.onAcked(1, 1200, 0, false);
    expect(cc.cwnd).toBe(24_000); // doubled after one window of acks
    cc.onCongestionEvent(2, 1.5);
    expect(cc.cwnd).toBe(12_000);
    expect(cc.ssthresh).toBe(12_000);
    // Packets sent before the recovery start do not grow the window.
    cc.onAcked(3, 1200, 1.9, false);
    expect(cc.cwnd).toBe(12_000);
    // A second loss from the same period does not reduce again.
    cc.onCongestionEvent(3, 1.8);
    expect(cc.cwnd).toBe(12_000);
    // Avoidance: 12000 acked bytes (one window) add exactly 1200.
    for (let i = 0; i < 9; i++) cc.onAcked(4, 1200, 2.5, false);
    expect(cc.cwnd).toBe(12_000);
    cc.onAcked(4, 1200, 2.5, false);
    expect(cc.cwnd).toBe(13_200);
    // A loss of a packet sent after the recovery start halves again.
    cc.onCongestionEvent(5, 2.5);
    expect(cc.cwnd).toBe(6_600);
    cc.onPersistentCongestion(6);
    expect(cc.cwnd).toBe(2_400);
  });

  test("app-limited acks do not grow the window; the maximum caps it", () => {
    const cc = new NewReno({ ...LIMITS, maximumWindowBytes: 13_000 });
    cc.onAcked(1, 1200, 0, true);
    expect(cc.cwnd).toBe(12_000);
    cc.onAcked(1, 1200, 0, false);
    expect(cc.cwnd).toBe(13_000);
  });
});

describe("NewReno trace through the protocol over a bottleneck", () => {
  test("exponential slow start, halving once per recovery, linear avoidance, persistent collapse", () => {
    const trace: TracePoint[] = [];
    const delay = 20;
    const net = new SimNetwork(21, {
      delayMs: delay,
      bytesPerMs: 1_500,
      queueBytes: 60_000,
      blackouts: [[6_000, 9_000]],
    });
    const rec = new Recorder();
    const server = new UdpEndpoint(net.config({ maxMessageBytes: 1 << 20 }), (c) => rec.attach(c));
    const cEp = new UdpEndpoint(
      net.config({
        maxMessageBytes: 1 << 20,
        onCongestion: (now, cwnd, ssthresh, event) => trace.push({ now, cwnd, ssthresh, event }),
      }),
    );
    const sAddr = net.add(server, "10.0.0.1", 1);
    net.add(cEp, "10.0.0.2", 2);
    const c = cEp.connect(sAddr, 0);
    new Recorder().attach(c);
    expect(net.run(() => c.state === "established", 1_000)).toBe(true);
    // Keep the sender busy (never app-limited) for 12 s of virtual time.
    const msg = makeMessage(0, 16_000, 1);
    net.run(() => {
      while (c.bufferedBytes() < 400_000) c.send(msg);
      return net.now >= 12_000;
    }, 12_000);
    const minRtt = 2 * delay;
    expect(trace.length).toBeGreaterThan(50);

    // 1. Slow start: every increase before the first loss equals one acked packet, and the window
    //    goes from 2x to 4x its initial size within a few RTTs (linear growth would need ~20).
    const firstLoss = trace.findIndex((t) => t.event === "loss");
    expect(firstLoss).toBeGreaterThan(0);
    let prev = 12_000;
    for (const t of trace.slice(0, firstLoss)) {
      expect(t.event).toBe("ack");
      expect(t.ssthresh).toBe(Infinity);
      const inc = t.cwnd - prev;
      expect(inc).toBeGreaterThan(0);
      expect(inc).toBeLessThanOrEqual(1200);
      prev = t.cwnd;
    }
    const t2 = trace.find((t) => t.cwnd >= 24_000)!;
    const t4 = trace.find((t) => t.cwnd >= 48_000)!;
    expect(t4.now - t2.now).toBeLessThan(3 * minRtt + 60);

    // 2. Every loss event halves the window it found; reductions are at least an RTT apart.
    let lastLossAt = -Infinity;
    for (let i = 1; i < trace.length; i++) {
      const t = trace[i];
      if (t.event !== "loss") continue;
      expect(t.cwnd).toBe(Math.max(Math.floor(trace[i - 1].cwnd / 2), 2400));
      expect(t.ssthresh).toBe(t.cwnd);
      expect(t.now - lastLossAt).toBeGreaterThanOrEqual(minRtt);
      lastLossAt = t.now;
    }
    const losses = trace.filter((t) => t.event === "loss");
    expect(losses.length).toBeGreaterThanOrEqual(2);

    // 3. Congestion avoidance: after a loss, growth is one datagram at a time, at most ~one per RTT.
    let avoidanceSteps = 0;
    for (let i = firstLoss + 1; i < trace.length; i++) {
      const t = trace[i];
      if (t.event !== "ack" || trace[i - 1].cwnd < t.ssthresh) continue;
      expect(t.cwnd - trace[i - 1].cwnd).toBe(1200);
      avoidanceSteps++;
    }
    expect(avoidanceSteps).toBeGreaterThan(5);

    // 4. The 3 s blackout is persistent congestion: the window collapses to 2 packets.
    const pc = trace.find((t) => t.event === "persistent_congestion");
    expect(pc).toBeDefined();
    expect(pc!.cwnd).toBe(2400);
    expect(pc!.now).toBeGreaterThan(6_000);
    // And it recovers (slow start again) after the blackout.
    expect(trace[trace.length - 1].cwnd).toBeGreaterThan(2400);
    expect(c.state).toBe("established");
  });
});
