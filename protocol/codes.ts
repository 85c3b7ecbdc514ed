/**
 * Stable, named result codes shared by the wire protocol, the state machine and the client.
 * Numbers never change once released; `docs/protocol.md` documents each one.
 * @module
 */

/** Result codes. `OK` and `NOT_FOUND` are successes; every other code is an error. */
export const Code = {
  OK: 0,
  NOT_FOUND: 1,
  WRONG_TYPE: 2,
  UNKNOWN_COMMAND: 3,
  SYNTAX: 4,
  NOT_INTEGER: 5,
  AUTH_REQUIRED: 6,
  AUTH_FAILED: 7,
  NOT_LEADER: 8,
  BUSY: 9,
  TOO_LARGE: 10,
  TIMEOUT: 11,
  INTERNAL: 12,
  MALFORMED: 13,
  BATCH_CONFLICT: 14,
  UNAVAILABLE: 15,
  SHUTTING_DOWN: 16,
  PLUGIN_REJECTED: 17,
  /** A guarded batch (IFREV first: WATCH/EXEC) found a watched key changed; nothing ran. */
  ABORTED: 18,
} as const;

/** A code's name, e.g. `"WRONG_TYPE"`. */
export type CodeName = keyof typeof Code;
/** A code's number as it travels on the wire. */
export type CodeNumber = (typeof Code)[CodeName];

const NAMES: CodeName[] = [];
for (const [name, num] of Object.entries(Code)) NAMES[num] = name as CodeName;

/** The name of a numeric code; unknown numbers map to `"INTERNAL"`. */
export function codeName(code: number): CodeName {
  return NAMES[code] ?? "INTERNAL";
}

/** True for codes that are not errors (`OK`, `NOT_FOUND`). */
export function isSuccess(code: number): boolean {
  return code === Code.OK || code === Code.NOT_FOUND;
}

/** An error that carries a protocol code; thrown by the client library and used in the server. */
export class TinyKVError extends Error {
  /** Numeric code as on the wire. */
  readonly code: CodeNumber;
  /** Code name, e.g. `"NOT_LEADER"`. */
  readonly codeName: CodeName;
  /** For `NOT_LEADER`: the leader's client address (`host:port`) when known. */
  readonly leader?: string;

  /**
   * An error with protocol `code`, `message`, and for `NOT_LEADER` the leader's address if known.
   */
  constructor(code: CodeNumber, message: string, leader?: string) {
    super(message);
    this.name = "TinyKVError";
    this.code = code;
    this.codeName = codeName(code);
    if (leader !== undefined) this.leader = leader;
  }
}
