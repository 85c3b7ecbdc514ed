/** Shared by the peer-authentication tests. */
import type { Message } from "../../core/raft/types.ts";

/** A Raft message with every field zero/empty except `over` (a heartbeat from 99 by default). */
export function raftMessage(over: Partial<Message>): Message {
  return {
    type: "heartbeat",
    from: 99,
    to: 1,
    term: 1,
    logTerm: 0,
    index: 0,
    commit: 0,
    reject: false,
    rejectHint: 0,
    entries: [],
    ...over,
  };
}
