/** The wal plugin's slow-fsync warning: reported at once, then at most once per interval, counted. */
import { expect, test } from "bun:test";
import { SLOW_FSYNC_REPORT_MS, walObservers } from "../../plugins/wal/mod.ts";
import { fakeContext } from "../helpers/fake_context.ts";

test("slow group commits are warned about, at most once per interval, with a count and the slowest", () => {
  const base = fakeContext({ election_timeout_ms: 400 });
  let now = 1_000;
  const obs = walObservers({ ...base, clock: { wallMs: () => now, monoMs: () => now } });
  const warnings = () => base.logs.filter((l) => l.includes("slow fsync"));
  obs.fsyncSeconds!(0.002); // fast: nothing
  obs.fsyncSeconds!(0.099);
  expect(warnings()).toEqual([]);
  obs.fsyncSeconds!(0.35);
  expect(warnings().length).toBe(1);
  expect(warnings()[0]).toContain("1 group commit(s) took 100 ms or more, the slowest 350 ms");
  expect(warnings()[0]).toContain("election timeout 400 ms");
  // Within the interval: counted, not logged.
  now += 1_000;
  obs.fsyncSeconds!(0.12);
  obs.fsyncSeconds!(0.5);
  expect(warnings().length).toBe(1);
  now += SLOW_FSYNC_REPORT_MS;
  obs.fsyncSeconds!(0.2);
  expect(warnings().length).toBe(2);
  expect(warnings()[1]).toContain(
    "3 group commit(s) took 100 ms or more since the last report, the slowest 500 ms",
  );
});
