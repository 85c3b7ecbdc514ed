/**
 * Redis glob patterns (KEYS, SCAN MATCH) and the SCAN cursor.
 *
 * Cursor: every key (or member/field) has a 53-bit hash; a cursor is a hash, and one SCAN call
 * returns the items whose hash is at least the cursor, in hash order, up to COUNT of them (every
 * item sharing the last hash included), plus the next cursor (0 when done). The order depends on
 * the items only — not on insertion order or the store's layout — so Redis's guarantee holds
 * across writes between calls: an item present for the whole iteration is returned (exactly
 * once, unless it was removed and re-added). Each call walks the whole collection (O(n)): to keep a
 * full iteration near O(n log n) overall, a call examines at least n/256 items (COUNT is a hint
 * in Redis too), and one reply holds at most {@link SCAN_MAX_BYTES} bytes of items.
 * @module
 */

/** Most bytes of items one SCAN-family reply holds (then the cursor stops early). */
export const SCAN_MAX_BYTES = 4 * 1024 * 1024;

/** 53-bit hash of a binary key string (two 32-bit mixes). */
export function scanHash(s: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0xc2b2ae35);
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) >>> 11);
}

/** Parses a cursor (unsigned decimal); null when invalid. Cursors past 2^53 mean "done". */
export function parseCursor(b: Uint8Array): number | null {
  if (b.length === 0 || b.length > 20) return null;
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  return v;
}

/** One SCAN step's selection: items in hash order and the next cursor (0 = done). */
export interface ScanStep {
  items: string[];
  next: number;
}

/**
 * Selects the next items of a scan over `all` (size `size`) from `cursor`; `count` ≥ 1 and
 * `bytesOf` gives an item's reply size for the byte budget.
 */
export function scanSelect(
  all: () => Iterable<string>,
  size: number,
  cursor: number,
  count: number,
  bytesOf: (item: string) => number,
): ScanStep {
  const want = Math.max(1, Math.min(Math.max(count, size >> 8), size));
  // Pass 1: the `want` smallest hashes ≥ cursor (max-heap).
  const heap: number[] = [];
  for (const it of all()) {
    const h = scanHash(it);
    if (h < cursor) continue;
    if (heap.length < want) {
      heap.push(h);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] >= heap[i]) break;
        const t = heap[p];
        heap[p] = heap[i];
        heap[i] = t;
        i = p;
      }
    } else if (h < heap[0]) {
      heap[0] = h;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const m = r < heap.length && heap[r] > heap[l] ? r : l;
        if (heap[m] <= heap[i]) break;
        const t = heap[m];
        heap[m] = heap[i];
        heap[i] = t;
        i = m;
      }
    }
  }
  if (heap.length === 0) return { items: [], next: 0 };
  const limit = heap[0];
  // Pass 2: every item with cursor ≤ hash ≤ limit (ties included), and the next hash after.
  const hs: number[] = [];
  const ks: string[] = [];
  let next = Infinity;
  for (const it of all()) {
    const h = scanHash(it);
    if (h < cursor) continue;
    if (h <= limit) {
      hs.push(h);
      ks.push(it);
    } else if (h < next) next = h;
  }
  const order = hs.map((_, i) => i);
  order.sort((a, b) => hs[a] - hs[b] || (ks[a] < ks[b] ? -1 : ks[a] > ks[b] ? 1 : 0));
  const items: string[] = [];
  let bytes = 0;
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    if (bytes > SCAN_MAX_BYTES && hs[i] !== hs[order[j - 1]]) {
      return { items, next: hs[i] };
    }
    bytes += bytesOf(ks[i]);
    items.push(ks[i]);
  }
  return { items, next: next === Infinity ? 0 : next };
}

/** The literal prefix of a glob pattern: every key it matches starts with it. */
export function globPrefix(p: string): string {
  let i = 0;
  while (i < p.length) {
    const c = p.charCodeAt(i);
    if (c === 42 || c === 63 || c === 91 || c === 92) break; // * ? [ \
    i++;
  }
  return p.slice(0, i);
}

/**
 * Redis's glob match (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) of binary key strings, case-sensitive.
 * Backtracks to the last `*` only: O(pattern × subject), no exponential blow-up.
 */
export function globMatch(p: string, s: string): boolean {
  const pn = p.length;
  const sn = s.length;
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < sn) {
    if (pi < pn) {
      if (p.charCodeAt(pi) === 42) {
        while (pi < pn && p.charCodeAt(pi) === 42) pi++;
        if (pi === pn) return true;
        starP = pi;
        starS = si;
        continue;
      }
      const nx = matchOne(p, pi, s.charCodeAt(si));
      if (nx >= 0) {
        pi = nx;
        si++;
        continue;
      }
    }
    if (starP < 0) return false;
    pi = starP;
    si = ++starS;
  }
  while (pi < pn && p.charCodeAt(pi) === 42) pi++;
  return pi === pn;
}

/** Matches one subject char at pattern position `pi`: the next pattern position, or -1. */
function matchOne(p: string, pi: number, c: number): number {
  const pn = p.length;
  const pc = p.charCodeAt(pi);
  if (pc === 63) return pi + 1; // ?
  if (pc === 92 && pi + 1 < pn) return p.charCodeAt(pi + 1) === c ? pi + 2 : -1; // \x
  if (pc !== 91) return pc === c ? pi + 1 : -1; // literal
  // [class]
  let i = pi + 1;
  let not = false;
  if (i < pn && p.charCodeAt(i) === 94) {
    not = true;
    i++;
  }
  let match = false;
  while (i < pn && p.charCodeAt(i) !== 93) {
    const a = p.charCodeAt(i);
    if (a === 92 && i + 1 < pn) {
      if (p.charCodeAt(i + 1) === c) match = true;
      i += 2;
    } else if (i + 2 < pn && p.charCodeAt(i + 1) === 45 && p.charCodeAt(i + 2) !== 93) {
      let lo = a;
      let hi = p.charCodeAt(i + 2);
      if (lo > hi) [lo, hi] = [hi, lo];
      if (c >= lo && c <= hi) match = true;
      i += 3;
    } else {
      if (a === c) match = true;
      i++;
    }
  }
  if (not) match = !match;
  if (!match) return -1;
  return i < pn ? i + 1 : i; // past ']' (an unterminated class ends the pattern)
}
