/**
 * Password checks in constant time: both sides are hashed to equal-length digests first, so the
 * comparison time reveals neither the password's length nor a matching prefix.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

const enc = new TextEncoder();

function digest(x: string | Uint8Array): Uint8Array {
  return createHash("sha256").update(typeof x === "string" ? enc.encode(x) : x).digest();
}

/** A verifier for one configured password (empty = no password required). */
export class PasswordCheck {
  readonly #expected: Uint8Array | null;

  constructor(password: string) {
    this.#expected = password === "" ? null : digest(password);
  }

  /** True when connections must authenticate. */
  get required(): boolean {
    return this.#expected !== null;
  }

  /** Constant-time check of a candidate password. */
  verify(candidate: unknown): boolean {
    if (this.#expected === null) return true;
    if (typeof candidate !== "string" && !(candidate instanceof Uint8Array)) return false;
    return timingSafeEqual(digest(candidate), this.#expected);
  }
}
