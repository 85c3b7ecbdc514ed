/**
 * Node wiring: one TinyKV node = storage + state machine + pure Raft core + peer network + client
 * server + plugins. The parts live in `core/node/` (see docs/architecture.md); this module keeps
 * the public entry point where importers expect it.
 * @module
 */
export { startNode } from "./node/node.ts";
export type { MemberAddress, StartOptions, TinyKVNode } from "./node/types.ts";
export type { Cancel, Clock, Random, Scheduler } from "./node/env.ts";
