/**
 * Unit tests of node parts that need neither sockets nor a running node: the admin waiter table
 * (answered when its entry applies, on leadership loss, at its deadline), address entries, and the
 * deterministic server-command handler of replicated apply.
 */
import { expect, test } from "bun:test";
import { Applier } from "../../core/node/applier.ts";
import { makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { HookBus } from "../../core/plugin/hooks.ts";
import { createLogger } from "../../core/config/logger.ts";
import { AdminCommands } from "../../core/node/admin.ts";
import {
  decodeAddressEntry,
  encodeAddressEntry,
  isAddressEntry,
  Membership,
} from "../../core/node/membership.ts";
import { inLogServerCommand } from "../../core/node/server_commands.ts";
import { NodeState } from "../../core/node/types.ts";
import { encodeCbor } from "../../protocol/cbor.ts";
import { encodeProposal } from "../../core/node/proposal.ts";
import { PendingBatches } from "../../core/node/pending.ts";
import { type ConfChange, EntryType, type RawNode } from "../../core/raft/types.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { FakeScheduler } from "../helpers/fake_env.ts";

const log = createLogger("silent");

function admin(index = 7, term = 3) {
  const s = new FakeScheduler();
  const state = new NodeState();
  state.role = "leader";
  state.leader = 1;
  const proposed: ConfChange[] = [];
  const raft = {
    status: () => ({ term, conf: { voters: [1], learners: [] } }),
    proposeConfChange: (cc: ConfChange) => (proposed.push(cc), index),
    transferLeader: () => {},
  } as unknown as RawNode;
  const membership = new Membership(1, log);
  const a = new AdminCommands({
    config: makeConfig({ raft_submit_timeout_ms: 1000 }),
    state,
    membership,
    scheduler: s,
    raft: () => raft,
    schedule: () => {},
  });
  return { a, s, proposed, membership };
}

const entry = (index: number, term: number, type: EntryType = EntryType.ConfChange) => ({
  index,
  term,
  type,
  data: new Uint8Array(0),
});

test("ADD_NODE is answered when its entry applies, not before", async () => {
  const { a, s, proposed, membership } = admin(7, 3);
  let answer: unknown = null;
  a.run("ADD_NODE", ["2", "10.0.0.2:7002", "10.0.0.2:6002"]).then((r) => answer = r);
  await s.run(10);
  expect(answer).toBeNull();
  expect(proposed[0].type).toBe("addVoter");
  expect(membership.get(2)).toEqual({ raft: "10.0.0.2:7002", client: "10.0.0.2:6002" });
  a.onApplied(entry(6, 3, EntryType.Normal));
  await s.run(0);
  expect(answer).toBeNull();
  a.onApplied(entry(7, 3));
  await s.run(0);
  expect(answer).toEqual({ code: Code.OK, value: "OK", error: null });
  expect(a.waiting).toBe(0);
  expect(s.pendingTimers).toBe(0); // the deadline timer was cancelled
});

test("a conf change's waiter: other leader's entry at its index, leadership loss, deadline", async () => {
  {
    const { a, s } = admin(7, 3);
    let answer: { code: number; error: string | null } | null = null;
    a.run("REMOVE_NODE", ["2"]).then((r) => answer = r);
    a.onApplied(entry(7, 4)); // a later leader's entry replaced ours
    await s.run(0);
    expect(answer!.code).toBe(Code.TIMEOUT);
    expect(answer!.error).toContain("outcome unknown");
  }
  {
    const { a, s } = admin();
    let answer: { code: number; error: string | null } | null = null;
    a.run("REMOVE_NODE", ["2"]).then((r) => answer = r);
    a.failAll("leadership lost before the change was applied");
    await s.run(0);
    expect(answer!.code).toBe(Code.TIMEOUT);
    expect(answer!.error).toContain("leadership lost");
  }
  {
    const { a, s } = admin();
    let answer: { code: number; error: string | null } | null = null;
    a.run("REMOVE_NODE", ["2"]).then((r) => answer = r);
    await s.run(4999);
    expect(answer).toBeNull();
    await s.run(1);
    expect(answer!.code).toBe(Code.TIMEOUT);
    expect(answer!.error).toContain("not applied in time");
  }
});

test("address entries: round trip, validation, and a leader announces only a changed address", () => {
  const data = encodeAddressEntry(3, { raft: "h:7003", client: "h:6103" });
  expect(isAddressEntry(data)).toBe(true);
  expect(isAddressEntry(encodeProposal([], 1))).toBe(false);
  expect(isAddressEntry(new Uint8Array(0))).toBe(false);
  expect(decodeAddressEntry(data)).toEqual({
    id: 3,
    address: { raft: "h:7003", client: "h:6103" },
  });
  const bad = new Uint8Array([0xad, ...encodeCbor({ id: 0, raft: "h:1", client: "h:2" })]);
  expect(decodeAddressEntry(bad)).toBeNull();
  expect(decodeAddressEntry(new Uint8Array([0xad, 0xff]))).toBeNull();

  const m = new Membership(1, log);
  m.fromConfig({ 1: "h:7001", 2: "h:7002" }, {});
  expect(m.clientAddress(2)).toBe("h:7001"); // the raft - 1 guess
  m.setOwn({ clientPort: 6101, raftFallback: "h:7001" });
  expect(m.clientAddress(1)).toBe("h:6101"); // its own real one
  const ann = m.announcement()!;
  expect(decodeAddressEntry(ann)).toEqual({ id: 1, address: { raft: "h:7001", client: "h:6101" } });
  m.applyAddressEntry({ index: 5, term: 1, type: EntryType.Normal, data: ann });
  expect(m.get(1)).toEqual({ raft: "h:7001", client: "h:6101" });
  expect(m.announcement()).toBeNull();
  expect(m.toObject()[1]).toEqual({ raft: "h:7001", client: "h:6101" });
});

test("in replicated apply, server commands get one deterministic answer on every replica", () => {
  const replicas = [0, 1].map(() => {
    const sm = createStateMachine();
    return new Applier(sm, new HookBus([], () => ({}) as never, log), inLogServerCommand);
  });
  const commands = encodeCbor([["SET", "k", "v"], ["INFO"], ["MEMBERS"], ["ADD_NODE", "2"]]);
  const data = encodeProposal([{ clientId: "c", batchId: "b", commands, count: 4 }], 1000);
  const results = replicas.map((r) =>
    r.apply({ index: 1, term: 1, type: EntryType.Normal, data }).results[0]
  );
  expect(results[0]).toEqual(results[1]);
  expect(results[0].codes).toEqual([Code.OK, Code.SYNTAX, Code.SYNTAX, Code.SYNTAX]);
  expect(results[0].errors[1]).toBe("INFO must be sent on its own or with reads only");
  expect(results[0].errors[2]).toBe("MEMBERS must be sent on its own or with reads only");
});

test("a waiter that throws is reported; the other waiters are still answered and nothing reaches apply", () => {
  const errors: unknown[] = [];
  const pending = new PendingBatches(10, (e) => errors.push(e));
  const batch = { clientId: "c", batchId: "b", commands: new Uint8Array([0x80]), count: 0 };
  const got: string[] = [];
  pending.add(batch, () => {
    throw new Error("reply writer bug");
  }, 1e12);
  pending.add(batch, (o) => got.push("code" in o ? String(o.code) : "result"), 1e12);
  expect(() => pending.settle("c", "b", { code: 0 as never, message: "x" })).not.toThrow();
  expect(got).toEqual(["0"]);
  expect(String(errors[0])).toContain("reply writer bug");
  // The same for the deadline sweep and failAll.
  pending.add({ ...batch, batchId: "b2" }, () => {
    throw new Error("again");
  }, 0);
  expect(() => pending.expire(1, { code: 11 as never, message: "timeout" })).not.toThrow();
  pending.add({ ...batch, batchId: "b3" }, () => {
    throw new Error("and again");
  }, 1e12);
  expect(() => pending.failAll({ code: 11 as never, message: "lost" })).not.toThrow();
  expect(errors.length).toBe(3);
});
