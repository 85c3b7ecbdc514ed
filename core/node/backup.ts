/**
 * Backups of a running node (`mod.ts snapshot save`): `SNAPSHOT_SAVE` captures the state at the
 * applied index — a consistent cut of the log: state machine, plugins' replicated state, members —
 * and holds it for the caller, who reads it with `SNAPSHOT_CHUNK <token> <offset>` in chunks of at
 * most {@link BACKUP_CHUNK_BYTES}. One backup is held at a time, for at most
 * {@link BACKUP_HOLD_MS} after its last chunk was read (bounded memory: one snapshot's bytes).
 * @module
 */
import { crc32c } from "@node-rs/crc32";
import { Code } from "../../protocol/codes.ts";
import type { CommandResult } from "../../protocol/messages.ts";
import type { Clock } from "../env/time.ts";
import type { Snapshot } from "../raft/types.ts";

/** Largest chunk `SNAPSHOT_CHUNK` answers (well under the client's response limit). */
export const BACKUP_CHUNK_BYTES = 4 * 1024 * 1024;
/** A held backup is dropped this long after it was last read. */
export const BACKUP_HOLD_MS = 60_000;

interface Held {
  token: string;
  snap: Snapshot;
  lastRead: number;
}

/** What backups need from the node. */
export interface BackupDeps {
  clock: Clock;
  random: () => number;
  /** Captures the state now (core/node/snapshots.ts `capture`). */
  capture(): Promise<Snapshot>;
}

/** SNAPSHOT_SAVE and SNAPSHOT_CHUNK. */
export class Backups {
  readonly #d: BackupDeps;
  #held: Held | null = null;
  #capturing = false;

  constructor(deps: BackupDeps) {
    this.#d = deps;
  }

  /**
   * SNAPSHOT_SAVE: captures a snapshot and answers `[token, index, term, bytes, crc32c, voters,
   * learners]`. BUSY while another backup is being read (or captured).
   */
  async save(): Promise<CommandResult> {
    const now = this.#d.clock.monoMs();
    if (this.#held && now - this.#held.lastRead > BACKUP_HOLD_MS) this.#held = null;
    if (this.#capturing || this.#held) {
      return {
        code: Code.BUSY,
        value: null,
        error: "server busy: another backup is in progress on this node; retry later",
      };
    }
    this.#capturing = true;
    try {
      const snap = await this.#d.capture();
      const token = Math.floor(this.#d.random() * 2 ** 48).toString(36);
      this.#held = { token, snap, lastRead: this.#d.clock.monoMs() };
      const { index, term, conf } = snap.meta;
      return {
        code: Code.OK,
        value: [
          token,
          index,
          term,
          snap.data.length,
          crc32c(snap.data),
          conf.voters,
          conf.learners,
        ],
        error: null,
      };
    } catch (err) {
      return {
        code: Code.INTERNAL,
        value: null,
        error: `snapshot failed: ${(err as Error).message}`,
      };
    } finally {
      this.#capturing = false;
    }
  }

  /** SNAPSHOT_CHUNK token offset: up to BACKUP_CHUNK_BYTES from `offset`; the last chunk releases it. */
  chunk(args: string[]): CommandResult {
    const h = this.#held;
    const offset = Number(args[1]);
    if (args.length !== 2 || !Number.isSafeInteger(offset) || offset < 0) {
      return { code: Code.SYNTAX, value: null, error: "usage: SNAPSHOT_CHUNK <token> <offset>" };
    }
    if (!h || h.token !== args[0]) {
      return {
        code: Code.NOT_FOUND,
        value: null,
        error:
          "no such backup on this node (expired, or taken on another node): run SNAPSHOT_SAVE again",
      };
    }
    const data = h.snap.data;
    if (offset > data.length) {
      return {
        code: Code.SYNTAX,
        value: null,
        error: `offset beyond the snapshot (${data.length} bytes)`,
      };
    }
    h.lastRead = this.#d.clock.monoMs();
    const end = Math.min(data.length, offset + BACKUP_CHUNK_BYTES);
    if (end === data.length) this.#held = null; // read to the end: released
    return { code: Code.OK, value: data.subarray(offset, end), error: null };
  }
}
