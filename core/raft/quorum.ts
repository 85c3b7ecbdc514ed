/**
 * Majority-quorum math for one voter set: the committed index from match indexes and the outcome
 * of a vote count. Kept tiny and allocation-light: it runs on every append response.
 * @module
 */

/** Votes needed for a majority of `n` voters. */
export function quorumSize(n: number): number {
  return (n >> 1) + 1;
}

/**
 * The highest index replicated on a majority, given each voter's match index (`matches` is
 * reordered in place). Returns 0 for an empty voter set.
 */
export function committedIndex(matches: number[]): number {
  const n = matches.length;
  if (n === 0) return 0;
  matches.sort((a, b) => b - a);
  return matches[quorumSize(n) - 1];
}

/** Outcome of an election tally. */
export type VoteResult = "won" | "lost" | "pending";

/** Tallies `granted`/`rejected` votes out of `voters` voters. */
export function voteResult(voters: number, granted: number, rejected: number): VoteResult {
  const q = quorumSize(voters);
  if (granted >= q) return "won";
  if (voters - rejected < q) return "lost";
  return "pending";
}
