/**
 * Applying committed entries, in log order, on every replica: conf changes and address entries go
 * to membership, client batches to the Applier (state machine and plugin hooks), whose results
 * answer the batches waiting in the pending table (on the leader that proposed them). Each applied
 * index also answers an admin command waiting for it.
 * @module
 */
import type { Applier } from "./applier.ts";
import type { PendingBatches } from "./pending.ts";
import { type ConfChange, type ConfState, type Entry, EntryType } from "../raft/types.ts";
import type { AdminCommands } from "./admin.ts";
import { isAddressEntry, type Membership } from "./membership.ts";
import type { Snapshots } from "./snapshots.ts";
import type { NodeState } from "./types.ts";

/** What applying needs from the rest of the node. */
export interface ApplyDeps {
  state: NodeState;
  /** The Applier for entries (its server-command handler is the deterministic one). */
  applier: Applier;
  pending: PendingBatches;
  membership: Membership;
  admin: AdminCommands;
  snapshots: Snapshots;
  /** Raft's applyConfChange, with the new ConfState recorded in storage. */
  applyConfChange(cc: ConfChange): ConfState;
  /** Called after each entry is applied (the watch history turns its changes into events). */
  afterEntry?(index: number): void;
}

/** Applies committed entries past the applied index. */
export function applyEntries(d: ApplyDeps, entries: readonly Entry[]): void {
  const { state, pending } = d;
  for (const e of entries) {
    if (e.index <= state.applied) continue;
    d.snapshots.noteApplied(e.data.length);
    if (e.type === EntryType.ConfChange) d.membership.applyConfChange(e, d.applyConfChange);
    else if (isAddressEntry(e.data)) d.membership.applyAddressEntry(e);
    else {
      const { batches, results } = d.applier.apply(e);
      for (let i = 0; i < batches.length; i++) {
        pending.settle(batches[i].clientId, batches[i].batchId, { result: results[i] });
      }
    }
    state.applied = e.index;
    d.afterEntry?.(e.index);
    d.admin.onApplied(e);
  }
}
