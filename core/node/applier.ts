/**
 * Applies committed entries to the state machine, in log order, on every replica: decodes each
 * batch's commands once, runs them, collects per-command results, and runs the plugins'
 * `beforeApply`/`onApply` hooks. The leader then answers the waiting clients from the results.
 *
 * Apply is total and bounded: no entry data makes it throw, loop or allocate by a count it reads.
 * An undecodable envelope is skipped (every replica skips the same entry, so they agree); a batch
 * that is not a valid batch gets one MALFORMED slot and is not applied; results are sized by the
 * commands actually present, never by a recorded count.
 * @module
 */
import { decodeCbor } from "../../protocol/cbor.ts";
import { argvAt, commandSpans } from "../../protocol/cbor_peek.ts";
import { toArgv } from "../server/argv.ts";
import { isGuard } from "../state/txn.ts";
import { Code } from "../../protocol/codes.ts";
import { type CommandResult, MAX_BATCH_REPLY_BYTES, valueBytes } from "../../protocol/messages.ts";
import type { HookBus } from "../plugin/hooks.ts";
import type { BatchResult, ClientBatch, CommittedEntry } from "../plugin/plugin.ts";
import { type DecodedBatch, decodeProposal, type Proposal } from "./proposal.ts";
import type { Entry } from "../raft/types.ts";
import type { ApplyContext, Argv, StateMachine } from "../state/types.ts";

/** Answers server commands (INFO, GET_LEADER, ...) that appear inside a batch. */
export type ServerCommandHandler = (argv: Argv) => CommandResult | null;

/** Applies Normal entries; conf-change entries are handled by the node. */
export class Applier {
  readonly #sm: StateMachine;
  readonly #hooks: HookBus;
  readonly #serverCommand: ServerCommandHandler;
  readonly #ctx: ApplyContext = { nowMs: 0, index: 0 };

  readonly #report: (message: string) => void;

  /** @param report told (once per entry) about entry data that cannot be applied; default stderr */
  constructor(
    sm: StateMachine,
    hooks: HookBus,
    serverCommand: ServerCommandHandler,
    report: (message: string) => void = (m) => console.error(`applier: ${m}`),
  ) {
    this.#sm = sm;
    this.#hooks = hooks;
    this.#serverCommand = serverCommand;
    this.#report = report;
  }

  /**
   * Applies one Normal entry and returns its batches with their results
   * (`results[i]` belongs to `batches[i]`).
   */
  apply(e: Entry): { batches: readonly ClientBatch[]; results: BatchResult[] } {
    let proposal: Proposal;
    try {
      proposal = decodeProposal(e.data);
    } catch (err) {
      this.#report(`entry ${e.index}: ${(err as Error).message}; skipped`);
      return { batches: [], results: [] };
    }
    const { nowMs, batches } = proposal;
    if (batches.length === 0) return { batches, results: [] };
    const ctx = this.#ctx;
    ctx.nowMs = nowMs;
    ctx.index = e.index;
    const hooks = this.#hooks;
    const view: CommittedEntry | null = hooks.wantsApply || hooks.wantsCommit
      ? { index: e.index, term: e.term, nowMs, batches, raw: e }
      : null;
    // onCommit sees the entry first: a quorum holds it, it is about to be applied.
    if (view && hooks.wantsCommit) hooks.onCommit(view);
    const results: BatchResult[] = new Array(batches.length);
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b];
      const cached = view && hooks.wantsApply ? hooks.beforeApply(batch, view) : undefined;
      results[b] = cached ?? this.execute(batch, ctx);
    }
    if (view) hooks.onApply(view, results);
    return { batches, results };
  }

  /**
   * Runs one batch's commands against the state machine and returns their results. Used for
   * entries (above) and, with read-only batches, for ReadIndex reads that never enter the log.
   */
  execute(batch: ClientBatch, ctx: ApplyContext): BatchResult {
    const problem = (batch as DecodedBatch).problem;
    if (problem !== undefined) {
      this.#report(`batch ${batch.batchId} at entry ${ctx.index}: ${problem}; not applied`);
      return malformed(`malformed batch: ${problem}; not applied`);
    }
    // The usual batch (arrays of byte or ASCII strings) is applied from the entry's bytes: argv
    // are views into them, with no decoded strings or copies per argument, and a plain
    // `SET key value` gets no argv at all (the state machine's applySet reads the offsets);
    // anything else is decoded the general way.
    const bytes = batch.commands;
    const spans = commandSpans(bytes);
    let cmds: unknown = null;
    if (spans === null) {
      try {
        cmds = decodeCbor(bytes);
      } catch {
        cmds = null;
      }
      if (!Array.isArray(cmds)) return malformed("malformed commands: not a CBOR array");
    }
    const count = spans !== null ? spans[0] : (cmds as unknown[]).length;
    const out: BatchResult = { codes: [], data: [], errors: [] };
    const sm = this.#sm;
    const fastSet = sm.applySet !== undefined;
    let replyBytes = 0;
    let leading = true; // still among the guards the batch starts with
    let at = 1; // the next command's place in spans
    for (let i = 0; i < count; i++) {
      let argv: Argv | string | null = null; // null: a plain SET, at spans[set]
      let set = -1;
      if (spans !== null) {
        const argc = spans[at];
        if (argc === 3 && fastSet && isSet(bytes, spans[at + 1], spans[at + 2])) set = at;
        else argv = argvAt(bytes, spans, at);
        at += 1 + 2 * argc;
      } else argv = toArgv((cmds as unknown[])[i]);
      if (typeof argv === "string") {
        out.codes.push(Code.SYNTAX);
        out.data.push(null);
        out.errors.push(argv);
        leading = false;
        continue;
      }
      const before = out.codes.length;
      try {
        if (argv !== null) sm.apply(argv, ctx, out);
        else {
          const ks = spans![set + 3], vs = spans![set + 5];
          sm.applySet!(bytes, ks, spans![set + 4] - ks, vs, spans![set + 6] - vs, ctx, out);
        }
      } catch (err) {
        // A state-machine bug must not stop the replica: every replica fails the same command.
        out.codes.length = out.data.length = out.errors.length = before;
        out.codes.push(Code.INTERNAL);
        out.data.push(null);
        out.errors.push(`internal error: ${(err as Error).message}`);
      }
      const last = out.codes.length - 1;
      if (leading) leading = argv !== null && isGuard(argv[0]); // SET (argv null) is no guard
      if (leading && i + 1 < count && out.codes[last] !== Code.OK) {
        // A guarded batch (WATCH/EXEC's IFREV, CHECK; every guard it starts with guards it, so
        // WATCH's IFREV followed by a queued CHECK guards EXEC's commands) whose guard failed:
        // nothing else runs, on any replica; the others repeat the guard's reason.
        const why = out.errors[last] ?? "";
        const msg = why.startsWith("transaction aborted") ? why : `transaction aborted: ${why}`;
        for (let k = i + 1; k < count; k++) {
          out.codes.push(Code.ABORTED);
          out.data.push(null);
          out.errors.push(msg);
        }
        return out;
      }
      if (argv !== null && out.codes[last] === Code.UNKNOWN_COMMAND) {
        const r = this.#serverCommand(argv);
        if (r) {
          out.codes[last] = r.code;
          out.data[last] = r.value;
          out.errors[last] = r.error;
        }
      }
      const v = out.data[last];
      if (v !== null && typeof v !== "number") {
        const n = valueBytes(v, MAX_BATCH_REPLY_BYTES - replyBytes);
        if (replyBytes + n > MAX_BATCH_REPLY_BYTES) {
          out.codes[last] = Code.TOO_LARGE;
          out.data[last] = null;
          out.errors[last] =
            `reply too large: this batch's replies exceed ${MAX_BATCH_REPLY_BYTES} bytes (the command ran; read in smaller batches)`;
        } else replyBytes += n;
      }
    }
    return out;
  }
}

/** True if bytes `s..e` of `b` are the command name SET (any case). */
function isSet(b: Uint8Array, s: number, e: number): boolean {
  return e - s === 3 && (b[s] | 0x20) === 0x73 && (b[s + 1] | 0x20) === 0x65 &&
    (b[s + 2] | 0x20) === 0x74;
}

/** The result of a batch refused at apply: one MALFORMED slot. */
function malformed(message: string): BatchResult {
  return { codes: [Code.MALFORMED], data: [null], errors: [message] };
}
