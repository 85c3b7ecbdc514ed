/**
 * `client.pipeline()`: queue commands locally, send them as one batch with `exec()`.
 * @module
 */
import type { Arg, BatchItemResult, BatchOptions, Pipeline } from "./types.ts";

/** Runs a batch (the client's `batch` method). */
export type BatchRunner = (commands: Arg[][], opts?: BatchOptions) => Promise<BatchItemResult[]>;

/** A command queue bound to one client. */
export class CommandPipeline implements Pipeline {
  #commands: Arg[][] = [];
  readonly #run: BatchRunner;

  constructor(run: BatchRunner) {
    this.#run = run;
  }

  /** Queues one command; returns the pipeline for chaining. */
  command(...args: Arg[]): Pipeline {
    this.#commands.push(args);
    return this;
  }

  /** Number of queued commands. */
  get length(): number {
    return this.#commands.length;
  }

  /** Sends the queued commands as one batch and empties the queue. */
  exec(opts?: BatchOptions): Promise<BatchItemResult[]> {
    const commands = this.#commands;
    this.#commands = [];
    return this.#run(commands, opts);
  }
}
