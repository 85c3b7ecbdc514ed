/**
 * Peer authentication: a mutual HMAC-SHA256 challenge–response run on every peer connection
 * before any Raft message is accepted (see docs/security.md).
 *
 * The connecting node (client) and the accepting node (server) each contribute a fresh 32-byte
 * nonce, so a recorded handshake replayed by anyone fails on the other side's new nonce. The
 * secret never crosses the wire: only MACs over (role, cluster id, both ids, both nonces) do, with
 * distinct role labels so one side's proof cannot be reflected as the other's.
 *
 * ```
 * client → server  HELLO     magic ver 1  from:u16 to:u16 nonceC[32] idLen:u8 clusterId
 * server → client  CHALLENGE magic ver 2  nonceS[32]
 * client → server  PROOF     magic ver 3  HMAC(secret, "client" ‖ transcript)[32]
 * server → client  ACCEPT    magic ver 4  HMAC(secret, "server" ‖ transcript)[32]
 * ```
 *
 * Every frame has a fixed size (HELLO: at most {@link MAX_HANDSHAKE_FRAME} bytes) checked before
 * anything is parsed. The cluster id travels in HELLO so a member of another cluster is told apart
 * (and logged as such) from a holder of a wrong secret; it is also bound into both MACs.
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { type FileSystem, writeOnce } from "../env/fs.ts";

const MAGIC = [0x54, 0x4b, 0x56, 0x41]; // "TKVA"
const VERSION = 1;
const NONCE = 32;
const MAC = 32;
const HEAD = 6; // magic, version, type
/** Longest cluster id (bytes). */
export const MAX_CLUSTER_ID_BYTES = 64;
/** Largest handshake frame (a HELLO with the longest cluster id). */
export const MAX_HANDSHAKE_FRAME = HEAD + 4 + NONCE + 1 + MAX_CLUSTER_ID_BYTES;
const T_HELLO = 1;
const T_CHALLENGE = 2;
const T_PROOF = 3;
const T_ACCEPT = 4;
const CHALLENGE_BYTES = HEAD + NONCE;
const MAC_FRAME_BYTES = HEAD + MAC;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** What kind of refusal (refusals are rate-limited per remote address and kind). */
export type RefusalKind = "stranger" | "secret" | "cluster" | "member" | "limit";

/** Why a handshake failed; `reason` is one short phrase for the log. */
export class HandshakeError extends Error {
  constructor(readonly reason: string, readonly kind: RefusalKind = "stranger") {
    super(reason);
    this.name = "HandshakeError";
  }
}

/** What both sides need: the shared secret, this cluster's id and this node's id. */
export interface PeerAuthConfig {
  secret: string;
  clusterId: string;
}

function frame(type: number, body: number): Uint8Array {
  const f = new Uint8Array(HEAD + body);
  f.set(MAGIC, 0);
  f[4] = VERSION;
  f[5] = type;
  return f;
}

/** Checks size (before anything else), magic, version and type of a handshake frame. */
function expect(bytes: Uint8Array, type: number, min: number, max: number, what: string): void {
  if (bytes.length < min || bytes.length > max) {
    throw new HandshakeError(`not a peer handshake (${bytes.length}-byte ${what})`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) throw new HandshakeError(`not a peer handshake (bad ${what})`);
  }
  if (bytes[4] !== VERSION) {
    throw new HandshakeError(`peer handshake version ${bytes[4]} (this node speaks ${VERSION})`);
  }
  if (bytes[5] !== type) throw new HandshakeError(`unexpected handshake frame (wanted ${what})`);
}

/** What both MACs cover: the cluster id, both node ids and both nonces. */
interface Transcript {
  clusterId: string;
  from: number;
  to: number;
  nonceC: Uint8Array;
  nonceS: Uint8Array;
}

function mac(secret: string, role: "client" | "server", t: Transcript): Uint8Array {
  const h = createHmac("sha256", secret);
  h.update(`tinykv-peer-auth-v${VERSION} ${role}\0${t.clusterId}\0${t.from}\0${t.to}\0`);
  h.update(t.nonceC);
  h.update(t.nonceS);
  return new Uint8Array(h.digest());
}

/** A PROOF (client role) or ACCEPT (server role) frame. */
function macFrame(secret: string, role: "client" | "server", t: Transcript): Uint8Array {
  const f = frame(role === "client" ? T_PROOF : T_ACCEPT, MAC);
  f.set(mac(secret, role, t), HEAD);
  return f;
}

/** Checks a PROOF or ACCEPT frame: size first, then the MAC in constant time. */
function macValid(
  bytes: Uint8Array,
  secret: string,
  role: "client" | "server",
  t: Transcript,
): boolean {
  const client = role === "client";
  expect(
    bytes,
    client ? T_PROOF : T_ACCEPT,
    MAC_FRAME_BYTES,
    MAC_FRAME_BYTES,
    client ? "proof" : "accept",
  );
  return timingSafeEqual(bytes.subarray(HEAD), mac(secret, role, t));
}

/** Validates a cluster id; returns an error phrase or null. */
export function clusterIdProblem(id: string): string | null {
  if (!/^[A-Za-z0-9._-]+$/.test(id)) return "use letters, digits, '.', '_' or '-'";
  if (enc.encode(id).length > MAX_CLUSTER_ID_BYTES) {
    return `at most ${MAX_CLUSTER_ID_BYTES} characters`;
  }
  return null;
}

/** The connecting side of one handshake. */
export class ClientHandshake {
  readonly #auth: PeerAuthConfig;
  readonly #from: number;
  readonly #to: number;
  readonly #nonceC: Uint8Array;
  #nonceS: Uint8Array | null = null;
  #done = false;

  constructor(auth: PeerAuthConfig, from: number, to: number, nonce?: Uint8Array) {
    this.#auth = auth;
    this.#from = from;
    this.#to = to;
    this.#nonceC = nonce ?? new Uint8Array(randomBytes(NONCE));
  }

  /** True once the server proved it holds the secret. */
  get done(): boolean {
    return this.#done;
  }

  #transcript(): Transcript {
    const { clusterId } = this.#auth;
    return {
      clusterId,
      from: this.#from,
      to: this.#to,
      nonceC: this.#nonceC,
      nonceS: this.#nonceS!,
    };
  }

  /** The first frame (HELLO). */
  hello(): Uint8Array {
    const id = enc.encode(this.#auth.clusterId);
    const f = frame(T_HELLO, 4 + NONCE + 1 + id.length);
    const v = new DataView(f.buffer);
    v.setUint16(HEAD, this.#from);
    v.setUint16(HEAD + 2, this.#to);
    f.set(this.#nonceC, HEAD + 4);
    f[HEAD + 4 + NONCE] = id.length;
    f.set(id, HEAD + 5 + NONCE);
    return f;
  }

  /**
   * Feeds one frame from the server: a CHALLENGE returns the PROOF to send; an ACCEPT returns
   * null and completes the handshake. Throws {@link HandshakeError} on anything else.
   */
  receive(bytes: Uint8Array): Uint8Array | null {
    if (this.#done) throw new HandshakeError("handshake already complete");
    const a = this.#auth;
    if (this.#nonceS === null) {
      expect(bytes, T_CHALLENGE, CHALLENGE_BYTES, CHALLENGE_BYTES, "challenge");
      this.#nonceS = bytes.slice(HEAD, HEAD + NONCE);
      return macFrame(a.secret, "client", this.#transcript());
    }
    if (!macValid(bytes, a.secret, "server", this.#transcript())) {
      throw new HandshakeError(
        "the peer could not prove the cluster secret (wrong secret?)",
        "secret",
      );
    }
    this.#done = true;
    return null;
  }
}

/** The accepting side of one handshake. */
export class ServerHandshake {
  readonly #auth: PeerAuthConfig;
  readonly #selfId: number;
  readonly #isKnown: (id: number) => boolean;
  readonly #nonceS: Uint8Array;
  #nonceC: Uint8Array | null = null;
  #from = 0;
  #done = false;

  /**
   * @param isKnown whether a claimed peer id may connect (a member this node knows)
   * @param nonce the server nonce (tests only; random by default)
   */
  constructor(
    auth: PeerAuthConfig,
    selfId: number,
    isKnown: (id: number) => boolean,
    nonce?: Uint8Array,
  ) {
    this.#auth = auth;
    this.#selfId = selfId;
    this.#isKnown = isKnown;
    this.#nonceS = nonce ?? new Uint8Array(randomBytes(NONCE));
  }

  /** The peer id proved by the handshake (0 until done). */
  get peerId(): number {
    return this.#done ? this.#from : 0;
  }

  /** True once the client proved it holds the secret. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Feeds one frame from the client: HELLO returns the CHALLENGE, PROOF returns the ACCEPT and
   * completes the handshake. Throws {@link HandshakeError} on anything else.
   */
  receive(bytes: Uint8Array): Uint8Array {
    if (this.#done) throw new HandshakeError("handshake already complete");
    const a = this.#auth;
    if (this.#nonceC === null) {
      expect(bytes, T_HELLO, HEAD + 4 + NONCE + 2, MAX_HANDSHAKE_FRAME, "hello");
      const idLen = bytes[HEAD + 4 + NONCE];
      if (bytes.length !== HEAD + 5 + NONCE + idLen) {
        throw new HandshakeError("not a peer handshake (bad hello length)");
      }
      let clusterId: string;
      try {
        clusterId = dec.decode(bytes.subarray(HEAD + 5 + NONCE));
      } catch {
        throw new HandshakeError("not a peer handshake (cluster id not UTF-8)");
      }
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const from = v.getUint16(HEAD);
      const to = v.getUint16(HEAD + 2);
      if (clusterId !== a.clusterId) {
        throw new HandshakeError(
          `member of another cluster (cluster id ${JSON.stringify(clusterId)}, this cluster is ${
            JSON.stringify(a.clusterId)
          })`,
          "cluster",
        );
      }
      if (to !== this.#selfId) {
        throw new HandshakeError(`addressed to node ${to}, this is node ${this.#selfId}`, "member");
      }
      if (from === this.#selfId || !this.#isKnown(from)) {
        throw new HandshakeError(
          `claims to be node ${from}, not a member this node knows`,
          "member",
        );
      }
      this.#from = from;
      this.#nonceC = bytes.slice(HEAD + 4, HEAD + 4 + NONCE);
      const f = frame(T_CHALLENGE, NONCE);
      f.set(this.#nonceS, HEAD);
      return f;
    }
    const t: Transcript = {
      clusterId: a.clusterId,
      from: this.#from,
      to: this.#selfId,
      nonceC: this.#nonceC,
      nonceS: this.#nonceS,
    };
    if (!macValid(bytes, a.secret, "client", t)) {
      throw new HandshakeError(
        `claims to be node ${this.#from} but could not prove the cluster secret (wrong secret?)`,
        "secret",
      );
    }
    this.#done = true;
    return macFrame(a.secret, "server", t);
  }
}
/**
 * One log line per key (remote host and kind of refusal) per interval; lines in between are counted and the count is
 * reported with the next line. Bounded: at most `maxKeys` hosts are remembered.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #write: (line: string) => void;
  readonly #now: () => number;

  constructor(
    write: (line: string) => void,
    intervalMs = 10_000,
    maxKeys = 1024,
    now: () => number = Date.now,
  ) {
    this.#write = write;
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /** Logs `line` unless `key` was logged less than an interval ago. */
  log(key: string, line: string): void {
    const now = this.#now();
    const e = this.#last.get(key);
    if (e && now - e.at < this.#intervalMs) {
      e.suppressed++;
      return;
    }
    if (!e && this.#last.size >= this.#maxKeys) {
      for (const [k, v] of this.#last) if (now - v.at >= this.#intervalMs) this.#last.delete(k);
      if (this.#last.size >= this.#maxKeys) return; // a flood from many hosts: stay quiet
    }
    const more = e && e.suppressed > 0 ? ` (${e.suppressed} similar lines suppressed)` : "";
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#write(line + more);
  }
}

/**
 * The cluster secret from `cluster_secret`, or read from `cluster_secret_file` (one trailing
 * newline trimmed). Returns "" when neither is set. Throws with one line when the file cannot be
 * read or is empty.
 */
export function resolveClusterSecret(
  c: { cluster_secret: string; cluster_secret_file: string },
): string {
  if (c.cluster_secret !== "" || c.cluster_secret_file === "") return c.cluster_secret;
  let text: string;
  try {
    text = readFileSync(c.cluster_secret_file, "utf8");
  } catch (err) {
    throw new Error(
      `cluster_secret_file=${JSON.stringify(c.cluster_secret_file)}: cannot read (${
        (err as NodeJS.ErrnoException).code ?? (err as Error).message
      })`,
    );
  }
  const secret = text.replace(/\r?\n$/, "");
  const problem = secretProblem(secret);
  if (problem) {
    throw new Error(`cluster_secret_file=${JSON.stringify(c.cluster_secret_file)}: ${problem}`);
  }
  return secret;
}

/** Shortest accepted secret (characters). */
export const MIN_SECRET_CHARS = 16;

/** Validates a secret's length; returns an error phrase or null. */
export function secretProblem(secret: string): string | null {
  if (secret.length < MIN_SECRET_CHARS) {
    return `the secret is too short (at least ${MIN_SECRET_CHARS} characters; e.g. openssl rand -base64 24)`;
  }
  if (secret.length > 1024) return "the secret is too long (at most 1024 characters)";
  return null;
}

/** A random secret (for `mod.ts cluster`). */
export function generateSecret(): string {
  return randomBytes(24).toString("base64url");
}

/** Name of the file in the data dir that fixes the cluster id at formation. */
export const CLUSTER_ID_FILE = "CLUSTER_ID";

/**
 * Fixes the cluster id in `dataDir`: the first start writes it, later starts must give the same
 * one. Throws with one line on a mismatch.
 */
export function checkClusterIdFile(fs: FileSystem, dataDir: string, clusterId: string): void {
  const stored = writeOnce(fs, dataDir, CLUSTER_ID_FILE, clusterId);
  if (stored !== clusterId) {
    throw new Error(
      `data dir ${dataDir} belongs to cluster ${JSON.stringify(stored)}, not ${
        JSON.stringify(clusterId)
      }: start with --cluster-id ${stored} (the cluster id is fixed when the cluster is formed)`,
    );
  }
}

/** The file in a durable data dir that records which node id owns it. */
export const NODE_ID_FILE = "NODE_ID";

/**
 * A data dir belongs to one member: the first durable start writes its node id into `NODE_ID`;
 * a later start with another `--node-id` refuses (its log and vote are another member's). A dir
 * from before this check simply gets the file.
 */
export function checkNodeIdFile(fs: FileSystem, dataDir: string, nodeId: number): void {
  const stored = writeOnce(fs, dataDir, NODE_ID_FILE, String(nodeId));
  if (stored !== String(nodeId)) {
    throw new Error(
      `data dir ${dataDir} belongs to node ${stored}, not ${nodeId}: start it with --node-id ${stored}, or give node ${nodeId} its own --data-dir`,
    );
  }
}
