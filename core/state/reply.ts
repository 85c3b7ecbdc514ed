/**
 * Helpers that append one command's result to a columnar `ResultSink`, and the standard
 * Redis-like error messages. Rule: a null reply always carries `Code.NOT_FOUND`; every other
 * successful reply carries `Code.OK`.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { MAX_BATCH_REPLY_BYTES } from "../../protocol/messages.ts";
import type { ResultSink, Value } from "./types.ts";

/** Redis's WRONGTYPE message. */
export const MSG_WRONG_TYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
/** Redis's integer-parse message. */
export const MSG_NOT_INTEGER = "value is not an integer or out of range";
/** Redis's float-parse message. */
export const MSG_NOT_FLOAT = "value is not a valid float";
/** Generic option error. */
export const MSG_SYNTAX = "syntax error";

/** Appends a successful non-null reply. */
export function ok(out: ResultSink, value: Value): void {
  out.codes.push(Code.OK);
  out.data.push(value);
  out.errors.push(null);
}

/** Appends a nil reply (`NOT_FOUND`, null). */
export function nil(out: ResultSink): void {
  out.codes.push(Code.NOT_FOUND);
  out.data.push(null);
  out.errors.push(null);
}

/** Appends `value`, or nil when it is null. */
export function okOrNil(out: ResultSink, value: Value): void {
  if (value === null) nil(out);
  else ok(out, value);
}

/** Appends an error reply. */
export function fail(out: ResultSink, code: number, message: string): void {
  out.codes.push(code);
  out.data.push(null);
  out.errors.push(message);
}

/** Appends the WRONGTYPE error. */
export function wrongType(out: ResultSink): void {
  fail(out, Code.WRONG_TYPE, MSG_WRONG_TYPE);
}

/** Appends the not-an-integer error. */
export function notInteger(out: ResultSink): void {
  fail(out, Code.NOT_INTEGER, MSG_NOT_INTEGER);
}

/** Appends the not-a-float error (code NOT_INTEGER: the "bad number" class). */
export function notFloat(out: ResultSink): void {
  fail(out, Code.NOT_INTEGER, MSG_NOT_FLOAT);
}

/** Appends a generic syntax error. */
export function syntaxError(out: ResultSink, message: string = MSG_SYNTAX): void {
  fail(out, Code.SYNTAX, message);
}

/** Appends the wrong-arity error for command `name` (lower case). */
export function wrongArity(out: ResultSink, name: string): void {
  fail(out, Code.SYNTAX, `wrong number of arguments for '${name}' command`);
}

/**
 * Most bytes of values one command's reply may hold: a command whose reply would pass it stops
 * building it and answers TOO_LARGE (the batch-wide limit would refuse it anyway, after the
 * whole reply was built).
 */
export const MAX_REPLY_BYTES = MAX_BATCH_REPLY_BYTES;

/** Appends the reply-too-large error (see {@link MAX_REPLY_BYTES}). */
export function tooLarge(out: ResultSink): void {
  fail(
    out,
    Code.TOO_LARGE,
    `reply too large: more than ${MAX_REPLY_BYTES} bytes (ask for fewer items)`,
  );
}

/** Redis's out-of-range message for counts that must not be negative. */
export const MSG_NOT_POSITIVE = "value is out of range, must be positive";

/** Appends the must-be-positive error. */
export function notPositive(out: ResultSink): void {
  fail(out, Code.NOT_INTEGER, MSG_NOT_POSITIVE);
}
