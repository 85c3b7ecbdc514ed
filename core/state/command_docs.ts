/**
 * Documentation of every command TinyKV answers — the state machine's (STATE_SPECS), the node's
 * (SERVER_COMMANDS) and the RESP front-end's own (HELLO, CLIENT, MULTI, ...): name → syntax and a
 * one-line summary, in Redis's style and true to TinyKV's semantics. One table for the CLI's
 * `help` / `help CMD` and for COMMAND DOCS on the RESP port. Arity and the write flag are not
 * repeated here: they come from the command specs. `tests/ops/command_docs.test.ts` fails,
 * naming them, when a command has no entry.
 * @module
 */

/** One command's documentation. */
export interface CommandDoc {
  /** Upper-case name (the key of the table is its lower-case form). */
  readonly name: string;
  /** Syntax as Redis writes it: `SET key value [NX | XX] ...`. */
  readonly syntax: string;
  /** One line, Redis style ("Returns the string value of a key."). */
  readonly summary: string;
}

/** [syntax, summary]; the name is the syntax's first word. */
const ENTRIES: readonly (readonly [string, string])[] = [
  // strings
  [
    "SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    "Sets the string value of a key, ignoring its type; creates the key if it does not exist.",
  ],
  ["GET key", "Returns the string value of a key."],
  ["MGET key [key ...]", "Returns the string values of one or more keys."],
  ["MSET key value [key value ...]", "Sets the string values of one or more keys."],
  [
    "MSETNX key value [key value ...]",
    "Sets the string values of one or more keys only when none of the keys exist.",
  ],
  ["APPEND key value", "Appends a string to the value of a key; creates the key if needed."],
  ["STRLEN key", "Returns the length of a string value."],
  ["INCR key", "Increments the integer value of a key by one; missing keys count as 0."],
  ["DECR key", "Decrements the integer value of a key by one; missing keys count as 0."],
  ["INCRBY key increment", "Increments the integer value of a key by a number."],
  ["DECRBY key decrement", "Decrements the integer value of a key by a number."],
  ["INCRBYFLOAT key increment", "Increments the floating point value of a key by a number."],
  ["SETNX key value", "Sets the string value of a key only when the key does not exist."],
  ["SETEX key seconds value", "Sets the string value and expiration time (seconds) of a key."],
  [
    "PSETEX key milliseconds value",
    "Sets the string value and expiration time (milliseconds) of a key.",
  ],
  ["GETSET key value", "Returns the previous string value of a key after setting it."],
  ["GETDEL key", "Returns the string value of a key after deleting the key."],
  [
    "GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    "Returns the string value of a key after setting or removing its expiration time.",
  ],
  ["GETRANGE key start end", "Returns a substring of the string stored at a key."],
  ["SUBSTR key start end", "Returns a substring of the string stored at a key (old GETRANGE)."],
  [
    "SETRANGE key offset value",
    "Overwrites part of a string value from an offset; creates the key if needed.",
  ],
  [
    "LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    "Finds the longest common substring of two string values.",
  ],
  // keyspace
  ["DEL key [key ...]", "Deletes one or more keys."],
  ["UNLINK key [key ...]", "Deletes one or more keys (synchronously here, like DEL)."],
  ["EXISTS key [key ...]", "Counts how many of the given keys exist."],
  ["TYPE key", "Returns the type of the value stored at a key."],
  ["EXPIRE key seconds [NX | XX | GT | LT]", "Sets the expiration time of a key in seconds."],
  [
    "PEXPIRE key milliseconds [NX | XX | GT | LT]",
    "Sets the expiration time of a key in milliseconds.",
  ],
  [
    "EXPIREAT key unix-time-seconds [NX | XX | GT | LT]",
    "Sets the expiration time of a key to a Unix timestamp (seconds).",
  ],
  [
    "PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]",
    "Sets the expiration time of a key to a Unix timestamp (milliseconds).",
  ],
  ["TTL key", "Returns the time to live of a key in seconds (-1 no expiry, -2 no key)."],
  ["PTTL key", "Returns the time to live of a key in milliseconds (-1 no expiry, -2 no key)."],
  ["EXPIRETIME key", "Returns the expiration time of a key as a Unix timestamp (seconds)."],
  [
    "PEXPIRETIME key",
    "Returns the expiration time of a key as a Unix timestamp (milliseconds).",
  ],
  ["PERSIST key", "Removes the expiration time of a key."],
  ["KEYS pattern", "Returns all key names that match a glob pattern (bounded reply)."],
  [
    "SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]",
    "Iterates over the key names (cursors are key hashes: stable under writes).",
  ],
  ["RENAME key newkey", "Renames a key, overwriting the destination."],
  ["RENAMENX key newkey", "Renames a key only when the new name does not exist."],
  [
    "COPY source destination [DB 0] [REPLACE]",
    "Copies the value of a key to a new key (one database: DB 0 only).",
  ],
  ["TOUCH key [key ...]", "Counts how many of the given keys exist (access times not tracked)."],
  [
    "RANDOMKEY",
    "Returns a random key name (replicated pick: the same on every replica).",
  ],
  [
    "OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP [key]",
    "Inspects a key's internal representation (as Redis 7.0 would encode it).",
  ],
  ["FLUSHDB [ASYNC | SYNC]", "Removes all keys (synchronously)."],
  ["FLUSHALL [ASYNC | SYNC]", "Removes all keys (synchronously; there is one database)."],
  // lists
  ["LPUSH key element [element ...]", "Prepends one or more elements to a list."],
  ["RPUSH key element [element ...]", "Appends one or more elements to a list."],
  ["LPUSHX key element [element ...]", "Prepends elements to a list only when it exists."],
  ["RPUSHX key element [element ...]", "Appends elements to a list only when it exists."],
  ["LPOP key [count]", "Removes and returns the first elements of a list."],
  ["RPOP key [count]", "Removes and returns the last elements of a list."],
  ["LRANGE key start stop", "Returns a range of elements from a list."],
  ["LINDEX key index", "Returns an element of a list by its index."],
  ["LLEN key", "Returns the length of a list."],
  ["LSET key index element", "Sets the value of an element in a list by its index."],
  ["LREM key count element", "Removes elements equal to a value from a list."],
  ["LTRIM key start stop", "Trims a list to the given range of indexes."],
  [
    "LINSERT key BEFORE | AFTER pivot element",
    "Inserts an element before or after another element in a list.",
  ],
  [
    "LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
    "Returns the index (or indexes) of matching elements in a list.",
  ],
  [
    "LMOVE source destination LEFT | RIGHT LEFT | RIGHT",
    "Pops an element from one end of a list and pushes it onto an end of another.",
  ],
  [
    "RPOPLPUSH source destination",
    "Pops the last element of a list and pushes it onto the head of another.",
  ],
  [
    "LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]",
    "Pops elements from the first non-empty list among the keys.",
  ],
  // sets
  ["SADD key member [member ...]", "Adds one or more members to a set."],
  ["SREM key member [member ...]", "Removes one or more members from a set."],
  ["SMEMBERS key", "Returns all members of a set (in insertion order)."],
  ["SCARD key", "Returns the number of members in a set."],
  ["SISMEMBER key member", "Tells whether a member belongs to a set."],
  ["SMISMEMBER key member [member ...]", "Tells whether each of several members belongs to a set."],
  ["SINTER key [key ...]", "Returns the intersection of sets."],
  ["SUNION key [key ...]", "Returns the union of sets."],
  ["SDIFF key [key ...]", "Returns the difference of the first set and the others."],
  ["SINTERSTORE destination key [key ...]", "Stores the intersection of sets in a key."],
  ["SUNIONSTORE destination key [key ...]", "Stores the union of sets in a key."],
  ["SDIFFSTORE destination key [key ...]", "Stores the difference of sets in a key."],
  [
    "SINTERCARD numkeys key [key ...] [LIMIT limit]",
    "Returns the number of members in the intersection of sets.",
  ],
  ["SMOVE source destination member", "Moves a member from one set to another."],
  [
    "SPOP key [count]",
    "Removes and returns random members of a set (replicated pick: the same on every replica).",
  ],
  [
    "SRANDMEMBER key [count]",
    "Returns random members of a set without removing them (replicated pick).",
  ],
  [
    "SSCAN key cursor [MATCH pattern] [COUNT count]",
    "Iterates over the members of a set.",
  ],
  // hashes
  [
    "HSET key field value [field value ...]",
    "Sets the values of one or more fields of a hash; creates the hash if needed.",
  ],
  ["HMSET key field value [field value ...]", "Sets the values of fields of a hash (old HSET)."],
  ["HSETNX key field value", "Sets the value of a hash field only when the field does not exist."],
  ["HGET key field", "Returns the value of a field in a hash."],
  ["HMGET key field [field ...]", "Returns the values of one or more fields of a hash."],
  ["HDEL key field [field ...]", "Deletes one or more fields from a hash."],
  ["HEXISTS key field", "Tells whether a field exists in a hash."],
  ["HLEN key", "Returns the number of fields in a hash."],
  ["HKEYS key", "Returns all fields of a hash (in insertion order)."],
  ["HVALS key", "Returns all values of a hash (in insertion order)."],
  ["HGETALL key", "Returns all fields and values of a hash."],
  ["HSTRLEN key field", "Returns the length of the value of a hash field."],
  ["HINCRBY key field increment", "Increments the integer value of a hash field by a number."],
  [
    "HINCRBYFLOAT key field increment",
    "Increments the floating point value of a hash field by a number.",
  ],
  [
    "HRANDFIELD key [count [WITHVALUES]]",
    "Returns random fields of a hash (replicated pick: the same on every replica).",
  ],
  [
    "HSCAN key cursor [MATCH pattern] [COUNT count]",
    "Iterates over the fields and values of a hash.",
  ],
  // sorted sets
  [
    "ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
    "Adds members to a sorted set, or updates their scores.",
  ],
  ["ZINCRBY key increment member", "Increments the score of a member of a sorted set."],
  ["ZREM key member [member ...]", "Removes one or more members from a sorted set."],
  [
    "ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
    "Returns members of a sorted set in a range of indexes, scores or names.",
  ],
  [
    "ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
    "Stores a range of members of a sorted set in a key.",
  ],
  [
    "ZREVRANGE key start stop [WITHSCORES]",
    "Returns members of a sorted set in a range of indexes, highest score first.",
  ],
  [
    "ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]",
    "Returns members of a sorted set within a range of scores.",
  ],
  [
    "ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]",
    "Returns members of a sorted set within a range of scores, highest first.",
  ],
  [
    "ZRANGEBYLEX key min max [LIMIT offset count]",
    "Returns members of a sorted set within a lexicographical range.",
  ],
  [
    "ZREVRANGEBYLEX key max min [LIMIT offset count]",
    "Returns members of a sorted set within a lexicographical range, in reverse.",
  ],
  ["ZSCORE key member", "Returns the score of a member of a sorted set."],
  ["ZMSCORE key member [member ...]", "Returns the scores of one or more members of a sorted set."],
  ["ZCARD key", "Returns the number of members in a sorted set."],
  [
    "ZRANK key member [WITHSCORE]",
    "Returns the index of a member in a sorted set ordered by ascending score.",
  ],
  [
    "ZREVRANK key member [WITHSCORE]",
    "Returns the index of a member in a sorted set ordered by descending score.",
  ],
  ["ZCOUNT key min max", "Counts the members of a sorted set within a range of scores."],
  [
    "ZLEXCOUNT key min max",
    "Counts the members of a sorted set within a lexicographical range.",
  ],
  ["ZPOPMIN key [count]", "Removes and returns the members with the lowest scores."],
  ["ZPOPMAX key [count]", "Removes and returns the members with the highest scores."],
  [
    "ZREMRANGEBYRANK key start stop",
    "Removes the members of a sorted set within a range of indexes.",
  ],
  [
    "ZREMRANGEBYSCORE key min max",
    "Removes the members of a sorted set within a range of scores.",
  ],
  [
    "ZREMRANGEBYLEX key min max",
    "Removes the members of a sorted set within a lexicographical range.",
  ],
  [
    "ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]",
    "Returns the union of sorted sets.",
  ],
  [
    "ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]",
    "Returns the intersection of sorted sets.",
  ],
  [
    "ZDIFF numkeys key [key ...] [WITHSCORES]",
    "Returns the difference of the first sorted set and the others.",
  ],
  [
    "ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
    "Stores the union of sorted sets in a key.",
  ],
  [
    "ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
    "Stores the intersection of sorted sets in a key.",
  ],
  [
    "ZDIFFSTORE destination numkeys key [key ...]",
    "Stores the difference of sorted sets in a key.",
  ],
  [
    "ZRANDMEMBER key [count [WITHSCORES]]",
    "Returns random members of a sorted set (replicated pick: the same on every replica).",
  ],
  [
    "ZSCAN key cursor [MATCH pattern] [COUNT count]",
    "Iterates over the members and scores of a sorted set.",
  ],
  // server (state machine)
  ["PING [message]", "Returns PONG, or the message given."],
  ["ECHO message", "Returns the given string."],
  ["DBSIZE", "Returns the number of keys."],
  // revisions and optimistic transactions (TinyKV's own)
  [
    "GETREV key",
    "Returns a string key's value with its revision metadata (create and mod revisions, ...).",
  ],
  ["REVISION", "Returns the store's revision: the index of the last entry applied."],
  [
    "CHECK key MODREV n | VERSION n | VALUE v | ABSENT | EXISTS [key ...]",
    "Checks keys' revisions, versions or values; first in a batch, guards the rest (compare-and-set).",
  ],
  [
    "RANGE start end [LIMIT n] [REV] [KEYSONLY] [AT rev]",
    "Returns the keys in [start, end) in byte order, with values and revisions.",
  ],
  [
    "RANGEPREFIX prefix [LIMIT n] [REV] [KEYSONLY] [AT rev]",
    "Returns the keys that start with a prefix in byte order, with values and revisions.",
  ],
  [
    "KVATOMIC nchecks [key rev ...] [SET key value px | DEL key | SUM key u64 | MIN key u64 | MAX key u64 ...]",
    "Deno KV atomic commit: checks mod revisions, then applies every mutation or none.",
  ],
  ["KVSUM key u64", "Adds to a Deno KV 64-bit unsigned value, wrapping modulo 2^64."],
  ["KVMIN key u64", "Stores the smaller of a Deno KV 64-bit unsigned value and the operand."],
  ["KVMAX key u64", "Stores the larger of a Deno KV 64-bit unsigned value and the operand."],
  [
    "LEASE GRANT ttl | KEEPALIVE id | REVOKE id | TTL id [KEYS] | LIST",
    "Grants, renews, revokes (with its keys), lists or reports the ttl of a lease.",
  ],
  [
    "WATCHREV key [key ...]",
    "Returns each key's mod revision (0 when absent), to guard a later write with IFREV.",
  ],
  [
    "IFREV key revision [key revision ...]",
    "Answers OK if every key still has that revision, else ABORTED; first in a batch it guards it.",
  ],
  // node commands (answered by the node, not the state machine)
  [
    "INFO [section ...]",
    "Returns information about the node: server, raft, stats, plugins (sections optional).",
  ],
  ["GET_LEADER", "Returns the leader's id and client address."],
  ["MEMBERS", "Returns every member: id, addresses, voter or learner, role."],
  [
    "ADD_NODE id raft_host:port [client_host:port] [LEARNER]",
    "Adds a member to the cluster (answered once the change is applied).",
  ],
  ["REMOVE_NODE id", "Removes a member from the cluster."],
  ["TRANSFER_LEADER id", "Hands leadership to another voter."],
  [
    "SNAPSHOT_SAVE",
    "Captures a consistent backup on this node: token, index, term, bytes, CRC-32C, members.",
  ],
  [
    "SNAPSHOT_CHUNK token offset",
    "Returns a part of a captured backup (mod.ts snapshot save streams it).",
  ],
  // RESP front-end (connection, server, transactions)
  ["QUIT", "Closes the connection."],
  ["RESET", "Resets the connection: RESP2, no name, not authenticated."],
  ["SELECT index", "Selects the database; TinyKV has one, 0."],
  [
    "HELLO [protover [AUTH username password] [SETNAME clientname]]",
    "Handshakes with the server: protocol version (2 or 3), authentication, name.",
  ],
  ["AUTH [username] password", "Authenticates the connection."],
  [
    "CLIENT ID | INFO | LIST | GETNAME | SETNAME | KILL | SETINFO | NO-EVICT | NO-TOUCH [arg ...]",
    "Inspects or manages client connections.",
  ],
  [
    "COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...]]",
    "Returns information about the commands served.",
  ],
  [
    "CONFIG GET parameter [parameter ...]",
    "Returns configuration parameters as Redis names them (CONFIG SET is refused).",
  ],
  ["TIME", "Returns the node's current time (seconds, microseconds)."],
  [
    "LASTSAVE",
    "Returns the Unix time the node started (TinyKV has no RDB saves: the wal is its durability).",
  ],
  ["MULTI", "Starts a transaction: commands are queued until EXEC."],
  [
    "EXEC",
    "Runs the queued commands as one log entry, unless a WATCHed key changed (then nil).",
  ],
  ["DISCARD", "Discards the queued commands of a transaction."],
  [
    "WATCH key [key ...]",
    "Watches keys (reads their revisions) to make the next EXEC conditional.",
  ],
  ["UNWATCH", "Forgets all watched keys."],
];

function build(): Map<string, CommandDoc> {
  const m = new Map<string, CommandDoc>();
  for (const [syntax, summary] of ENTRIES) {
    const name = syntax.split(" ")[0];
    const key = name.toLowerCase();
    if (m.has(key)) throw new Error(`command_docs: ${name} documented twice`);
    m.set(key, { name, syntax, summary });
  }
  return m;
}

const DOCS = build();

/** Every documented command by lower-case name. */
export const COMMAND_DOCS: ReadonlyMap<string, CommandDoc> = DOCS;

/** The documentation of `name` (any case), or undefined. */
export function commandDoc(name: string): CommandDoc | undefined {
  return DOCS.get(name.toLowerCase());
}

/** The names in `names` that have no entry, as given, sorted (for the coverage test). */
export function undocumented(names: Iterable<string>): string[] {
  return [...new Set([...names].filter((n) => !DOCS.has(n.toLowerCase())))].sort();
}
