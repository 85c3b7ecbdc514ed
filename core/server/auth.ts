/**
 * Password checks in constant time (both sides are hashed to equal-length digests first, so the
 * comparison time reveals neither the password's length nor a matching prefix), and a per-address
 * throttle that slows repeated failures.
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

/** Most addresses remembered by {@link AuthThrottle} (the oldest is forgotten first). */
export const AUTH_THROTTLE_ADDRESSES = 4096;
/** The delay after a failure doubles per failure up to this multiple of the base delay. */
export const AUTH_DELAY_MAX_FACTOR = 64;
/** Failures from an address are forgotten after this long without another one. */
const FORGET_MS = 10 * 60 * 1000;

interface Failures {
  count: number;
  /** When the next attempt from the address may be checked. */
  next: number;
  last: number;
}

/**
 * Slows password guessing per remote address: after a failed attempt, the address's next attempt
 * is checked no sooner than `base × 2^(failures−1)` ms later (capped at
 * {@link AUTH_DELAY_MAX_FACTOR} × base). Remembers at most {@link AUTH_THROTTLE_ADDRESSES}
 * addresses. Time comes in as an argument.
 */
export class AuthThrottle {
  readonly #baseMs: number;
  readonly #max: number;
  readonly #table = new Map<string, Failures>();

  constructor(baseMs: number, maxAddresses = AUTH_THROTTLE_ADDRESSES) {
    this.#baseMs = baseMs;
    this.#max = maxAddresses;
  }

  /** Addresses currently remembered. */
  get size(): number {
    return this.#table.size;
  }

  /** How long an attempt from `host` arriving at `now` must wait before it is checked (0 = none). */
  waitMs(host: string, now: number): number {
    const f = this.#table.get(host);
    return f === undefined ? 0 : Math.max(0, f.next - now);
  }

  /** Records a failed attempt from `host` at `now`. */
  failed(host: string, now: number): void {
    let f = this.#table.get(host);
    if (f !== undefined) {
      this.#table.delete(host); // re-inserted last: the table forgets the stalest first
      if (now - f.last > FORGET_MS) f.count = 0;
    } else {
      f = { count: 0, next: 0, last: 0 };
      if (this.#table.size >= this.#max) {
        this.#table.delete(this.#table.keys().next().value as string);
      }
    }
    f.count++;
    f.last = now;
    f.next = now + this.#baseMs * Math.min(2 ** (f.count - 1), AUTH_DELAY_MAX_FACTOR);
    this.#table.set(host, f);
  }

  /** A successful attempt from `host` clears its record. */
  succeeded(host: string): void {
    this.#table.delete(host);
  }
}
