/**
 * A sorted-set value: member → score map plus a skip list ordered by (score, member bytes) with
 * spans, so rank lookups (ZRANGE) and score seeks (ZRANGEBYSCORE) are O(log n).
 * Members are binary-safe key strings (see `bytes.ts`); string order equals byte order.
 * @module
 */

const MAX_LEVEL = 32;

/** One skip-list node. */
export class ZNode {
  /** Member (binary key string). */
  readonly member: string;
  /** Score. */
  readonly score: number;
  /** Forward pointers per level. */
  readonly next: (ZNode | null)[];
  /** Distance (in level-0 nodes) to `next[i]`. */
  readonly span: number[];
  /** Backward pointer at level 0 (null for the first node). */
  prev: ZNode | null = null;

  constructor(member: string, score: number, level: number) {
    this.member = member;
    this.score = score;
    this.next = new Array<ZNode | null>(level).fill(null);
    this.span = new Array<number>(level).fill(0);
  }
}

// Level generator: a fixed-seed xorshift so even the (unobservable) shape is deterministic.
let rngState = 0x9e3779b9;
function randomLevel(): number {
  let level = 1;
  for (;;) {
    rngState ^= rngState << 13;
    rngState ^= rngState >>> 17;
    rngState ^= rngState << 5;
    if ((rngState & 3) !== 0 || level >= MAX_LEVEL) return level;
    level++;
  }
}

function before(n: ZNode, score: number, member: string): boolean {
  return n.score < score || (n.score === score && n.member < member);
}

/** Sorted set of (member, score). */
export class SortedSet {
  /** Member → score. */
  readonly scores: Map<string, number> = new Map();
  readonly #head = new ZNode("", 0, MAX_LEVEL);
  #level = 1;
  #length = 0;

  /** Number of members. */
  get size(): number {
    return this.#length;
  }

  /** Adds or re-scores a member. Returns true if it was new. */
  set(member: string, score: number): boolean {
    if (score === 0) score = 0; // normalise -0
    const old = this.scores.get(member);
    if (old !== undefined) {
      if (old === score) return false;
      this.#unlink(old, member);
      this.#insert(score, member);
      this.scores.set(member, score);
      return false;
    }
    this.#insert(score, member);
    this.scores.set(member, score);
    return true;
  }

  /** Removes a member. Returns true if it was present. */
  delete(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.#unlink(old, member);
    this.scores.delete(member);
    return true;
  }

  #insert(score: number, member: string): void {
    const update: ZNode[] = new Array(MAX_LEVEL);
    const rank: number[] = new Array(MAX_LEVEL);
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      rank[i] = i === this.#level - 1 ? 0 : rank[i + 1];
      let n = x.next[i];
      while (n !== null && before(n, score, member)) {
        rank[i] += x.span[i];
        x = n;
        n = x.next[i];
      }
      update[i] = x;
    }
    const level = randomLevel();
    if (level > this.#level) {
      for (let i = this.#level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.#head;
        this.#head.span[i] = this.#length;
      }
      this.#level = level;
    }
    const node = new ZNode(member, score, level);
    for (let i = 0; i < level; i++) {
      const u = update[i];
      node.next[i] = u.next[i];
      u.next[i] = node;
      node.span[i] = u.span[i] - (rank[0] - rank[i]);
      u.span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.#level; i++) update[i].span[i]++;
    node.prev = update[0] === this.#head ? null : update[0];
    const nx = node.next[0];
    if (nx !== null) nx.prev = node;
    this.#length++;
  }

  #unlink(score: number, member: string): void {
    const update: ZNode[] = new Array(MAX_LEVEL);
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && before(n, score, member)) {
        x = n;
        n = x.next[i];
      }
      update[i] = x;
    }
    const node = x.next[0];
    if (node === null || node.score !== score || node.member !== member) {
      throw new Error("sorted set index out of sync");
    }
    for (let i = 0; i < this.#level; i++) {
      const u = update[i];
      if (u.next[i] === node) {
        u.span[i] += node.span[i] - 1;
        u.next[i] = node.next[i];
      } else {
        u.span[i]--;
      }
    }
    const nx = node.next[0];
    if (nx !== null) nx.prev = node.prev;
    while (this.#level > 1 && this.#head.next[this.#level - 1] === null) this.#level--;
    this.#length--;
  }

  /** Node at 0-based rank `r` (must be in range). */
  byRank(r: number): ZNode | null {
    const target = r + 1;
    let traversed = 0;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && traversed + x.span[i] <= target) {
        traversed += x.span[i];
        x = n;
        n = x.next[i];
      }
      if (traversed === target) return x;
    }
    return null;
  }

  /** First node with score ≥ `min` (or > `min` when `exclusive`). */
  firstFrom(min: number, exclusive: boolean): ZNode | null {
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (exclusive ? n.score <= min : n.score < min)) {
        x = n;
        n = x.next[i];
      }
    }
    return x.next[0];
  }

  /** Last node with score ≤ `max` (or < `max` when `exclusive`). */
  lastUpTo(max: number, exclusive: boolean): ZNode | null {
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (exclusive ? n.score < max : n.score <= max)) {
        x = n;
        n = x.next[i];
      }
    }
    return x === this.#head ? null : x;
  }

  /** 0-based rank of `member` (ascending), or -1 when absent. */
  rank(member: string): number {
    const score = this.scores.get(member);
    if (score === undefined) return -1;
    let rank = 0;
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (before(n, score, member) || n.member === member)) {
        rank += x.span[i];
        x = n;
        if (x.member === member && x.score === score) return rank - 1;
        n = x.next[i];
      }
    }
    return -1;
  }

  /**
   * First node whose member is ≥ (or > when `exclusive`) `min`, -1/+1 `inf` for -/+ (lex order).
   * Lex ranges mean something only when every score is equal (Redis's rule); then this is a
   * skip-list seek. Otherwise it is the first such node in (score, member) order, found by a
   * linear walk as Redis's small sorted sets do: never a function of the skip list's shape, so
   * replicas (whose shapes differ) agree.
   */
  firstLex(min: string, exclusive: boolean, inf: number): ZNode | null {
    if (inf < 0) return this.#head.next[0];
    if (inf > 0) return null;
    if (!this.#oneScore()) {
      let n = this.#head.next[0];
      while (n !== null && (exclusive ? n.member <= min : n.member < min)) n = n.next[0];
      return n;
    }
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (exclusive ? n.member <= min : n.member < min)) {
        x = n;
        n = x.next[i];
      }
    }
    return x.next[0];
  }

  /** True when every member has the same score (lex order is then the skip list's order). */
  #oneScore(): boolean {
    const f = this.#head.next[0];
    return f === null || f.score === this.last()!.score;
  }

  /** Last node whose member is ≤ (or < when `exclusive`) `max` (lex order), see firstLex. */
  lastLex(max: string, exclusive: boolean, inf: number): ZNode | null {
    if (inf < 0) return null;
    if (inf > 0) return this.last();
    if (!this.#oneScore()) {
      let n = this.last();
      while (n !== null && (exclusive ? n.member >= max : n.member > max)) n = n.prev;
      return n;
    }
    let x = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (exclusive ? n.member < max : n.member <= max)) {
        x = n;
        n = x.next[i];
      }
    }
    return x === this.#head ? null : x;
  }

  /** Last node in order (null when empty). */
  last(): ZNode | null {
    return this.#length === 0 ? null : this.byRank(this.#length - 1);
  }

  /** First node in order (null when empty). */
  first(): ZNode | null {
    return this.#head.next[0];
  }
}
