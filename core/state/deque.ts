/**
 * A list value: a growable ring buffer of byte strings with O(1) push/pop at both ends and O(1)
 * access by index (LINDEX, LRANGE).
 * @module
 */

const MIN_CAP = 8;

/** Double-ended queue of byte strings. */
export class Deque {
  #buf: (Uint8Array | undefined)[] = new Array(MIN_CAP);
  #head = 0;
  #len = 0;

  /** Number of elements. */
  get length(): number {
    return this.#len;
  }

  #grow(): void {
    const old = this.#buf;
    const cap = old.length;
    const buf: (Uint8Array | undefined)[] = new Array(cap * 2);
    for (let i = 0; i < this.#len; i++) buf[i] = old[(this.#head + i) & (cap - 1)];
    this.#buf = buf;
    this.#head = 0;
  }

  #shrinkIfSparse(): void {
    const cap = this.#buf.length;
    if (cap > MIN_CAP && this.#len * 4 <= cap) {
      const buf: (Uint8Array | undefined)[] = new Array(cap >> 1);
      for (let i = 0; i < this.#len; i++) buf[i] = this.#buf[(this.#head + i) & (cap - 1)];
      this.#buf = buf;
      this.#head = 0;
    }
  }

  /** Adds at the tail. */
  pushBack(v: Uint8Array): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#len) & (this.#buf.length - 1)] = v;
    this.#len++;
  }

  /** Adds at the head. */
  pushFront(v: Uint8Array): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#buf.length - 1);
    this.#buf[this.#head] = v;
    this.#len++;
  }

  /** Removes and returns the head (undefined when empty). */
  popFront(): Uint8Array | undefined {
    if (this.#len === 0) return undefined;
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#len--;
    this.#shrinkIfSparse();
    return v;
  }

  /** Removes and returns the tail (undefined when empty). */
  popBack(): Uint8Array | undefined {
    if (this.#len === 0) return undefined;
    const i = (this.#head + this.#len - 1) & (this.#buf.length - 1);
    const v = this.#buf[i];
    this.#buf[i] = undefined;
    this.#len--;
    this.#shrinkIfSparse();
    return v;
  }

  /** Element at `i` (0-based from the head, must be in range). */
  at(i: number): Uint8Array {
    return this.#buf[(this.#head + i) & (this.#buf.length - 1)] as Uint8Array;
  }

  /** Replaces element `i` (must be in range). */
  set(i: number, v: Uint8Array): void {
    this.#buf[(this.#head + i) & (this.#buf.length - 1)] = v;
  }

  /** The elements, head first. */
  toArray(): Uint8Array[] {
    const a: Uint8Array[] = new Array(this.#len);
    for (let i = 0; i < this.#len; i++) a[i] = this.at(i);
    return a;
  }

  /** Replaces every element with `items` (head first). */
  replace(items: readonly Uint8Array[]): void {
    let cap = MIN_CAP;
    while (cap < items.length) cap *= 2;
    const buf: (Uint8Array | undefined)[] = new Array(cap);
    for (let i = 0; i < items.length; i++) buf[i] = items[i];
    this.#buf = buf;
    this.#head = 0;
    this.#len = items.length;
  }

  /** A copy (the byte strings are shared: they are never mutated in place). */
  clone(): Deque {
    const d = new Deque();
    d.replace(this.toArray());
    return d;
  }
}
