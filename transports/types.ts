/**
 * The neutral transport interface. TCP and the QUIC-style UDP protocol both implement it, for
 * client connections and for peer (Raft) connections alike.
 *
 * A transport moves whole messages (opaque byte arrays), never partial ones: TCP frames each
 * message with a 4-byte big-endian length; UDP fragments and reassembles them. Messages larger than
 * `maxMessageBytes` are refused on receipt with `onError("too_large")` and never buffered.
 * @module
 */

/** Why a transport refused incoming bytes. */
export type TransportErrorKind = "too_large" | "malformed" | "busy" | "io";

/** One established connection. */
export interface Connection {
  /** Process-unique id (for logs and maps). */
  readonly id: number;
  /** Remote address as `host:port`. */
  readonly remoteAddress: string;
  /** True once closed by either side. */
  readonly closed: boolean;
  /**
   * Queue one message. Messages queued in the same tick are written together. Returns false when the
   * connection is closed (the message is dropped).
   */
  send(message: Uint8Array): boolean;
  /** Bytes queued but not yet handed to the OS (for back-pressure decisions). */
  bufferedBytes(): number;
  /** Close the connection after flushing what is queued. */
  close(): void;
  /**
   * When part of a message has arrived but not all of it: the time (ms, `Date.now()`) its first
   * byte came; 0 otherwise. Lets the server time out half-sent frames. Optional (TCP has it).
   */
  readonly partialSince?: number;
  /**
   * Stops reading from the socket (the peer then sees TCP back-pressure) until
   * {@link resumeReading}. Optional (TCP has it); bytes already read may still be delivered.
   */
  pauseReading?(): void;
  /** Reads again after {@link pauseReading}. */
  resumeReading?(): void;
}

/** Callbacks for one connection. */
export interface ConnectionHandler {
  /** A whole message arrived. The array is owned by the handler (not reused by the transport). */
  onMessage(conn: Connection, message: Uint8Array): void;
  /**
   * The peer sent something unacceptable (a frame over the limit, a malformed frame). The transport
   * stops reading from this connection; the handler may send a last message, then should close.
   */
  onError?(conn: Connection, kind: TransportErrorKind, detail: string): void;
  /** The connection closed (by either side). Called exactly once. */
  onClose?(conn: Connection): void;
}

/** Options shared by listen and connect. */
export interface TransportOptions {
  /** Host to bind or connect to. */
  host: string;
  /** Port to bind (0: any free one) or connect to. */
  port: number;
  /** Largest message accepted (batch_max_bytes plus protocol overhead). */
  maxMessageBytes: number;
  /** tcp_nodelay (TCP only). Default true. */
  noDelay?: boolean;
  /** Socket buffer size hint (socket_buffer_bytes). */
  socketBufferBytes?: number;
  /**
   * Byte-stream mode (TCP only; for protocols that frame themselves, like RESP): no length
   * prefix either way. `onMessage` gets each chunk as it arrives — valid only during the call
   * (the runtime may reuse it: copy what is kept) — and `send` writes its bytes as they are.
   */
  stream?: boolean;
}

/** A listening endpoint. */
export interface Listener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** Stop accepting; existing connections are left to their handlers. */
  close(): Promise<void>;
}

/** A transport implementation (tcp or udp) for the current runtime. */
export interface Transport {
  /** Which protocol it speaks. */
  readonly name: "tcp" | "udp";
  /** Listen; `accept` is called for every new connection and returns its handler. */
  listen(
    opts: TransportOptions,
    accept: (conn: Connection) => ConnectionHandler,
  ): Promise<Listener>;
  /** Connect to a listener. Rejects if the connection cannot be established. */
  connect(opts: TransportOptions, handler: ConnectionHandler): Promise<Connection>;
}
