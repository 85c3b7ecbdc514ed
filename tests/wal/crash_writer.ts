/**
 * Child process for the crash test: appends batches to the WAL in `argv[2]` and prints
 * `ack <lastIndex>` after each sync() resolves, until it is killed. Snapshots every 25 batches.
 * Usage: crash_writer.ts <dir> <segmentBytes>
 */
import process from "node:process";
import { openWal } from "../../plugins/wal/wal.ts";
import { makeEntries } from "./wal_helpers.ts";

const dir = process.argv[2];
const segmentBytes = Number(process.argv[3] ?? 65536);
const w = await openWal(dir, { segmentBytes });
let next = w.lastIndex() + 1;
const term = w.initialState().hardState.term + 1;
w.setHardState({ term, vote: 1, commit: w.lastIndex() });
process.stdout.write(`start ${next - 1}\n`);
for (let batch = 0; batch < 1_000_000; batch++) {
  const n = 1 + (batch % 7) * 3;
  w.append(makeEntries(next, next + n - 1, term, 50 + (batch % 5) * 100));
  next += n;
  w.setHardState({ term, vote: 1, commit: next - 1 });
  await w.sync();
  process.stdout.write(`ack ${next - 1} ${term}\n`);
  if (batch % 25 === 24) {
    const idx = next - 1;
    await w.saveSnapshot({
      meta: { index: idx, term, conf: { voters: [1], learners: [] } },
      data: new Uint8Array(64).fill(idx & 0xff),
    }, 40);
  }
}
