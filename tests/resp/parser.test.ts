/**
 * The RESP parser and reply writer as units: a stream split at every byte boundary parses to the
 * same commands; pausing and resuming loses nothing; limits; reply shapes in RESP2 and RESP3.
 */
import { expect, test } from "bun:test";
import { Feed, RespParser, splitInline } from "../../core/server/resp/parser.ts";
import { redisError, unknownCommand } from "../../core/server/resp/server.ts";
import { RespWriter, Shape } from "../../core/server/resp/writer.ts";
import { Code } from "../../protocol/codes.ts";
import { resp } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const limits = { maxCommandBytes: 1024, maxArgs: 64, maxInlineBytes: 100 };

function collect(p: RespParser, chunks: Uint8Array[], pauseAt = -1): { cmds: string[][]; r: Feed } {
  const cmds: string[][] = [];
  let r = Feed.OK;
  const sink = (buf: Uint8Array, s: Int32Array, e: Int32Array, n: number) => {
    const c: string[] = [];
    for (let i = 0; i < n; i++) c.push(dec.decode(buf.subarray(s[i], e[i])));
    cmds.push(c);
    return cmds.length !== pauseAt;
  };
  for (const ch of chunks) {
    r = p.feed(ch, sink);
    while (r === Feed.PAUSED) r = p.resume(sink);
    if (r === Feed.ERROR) break;
  }
  return { cmds, r };
}

const stream = new Uint8Array([
  ...resp("SET", "k", "v\r\nwith crlf"),
  ...enc.encode("PING\r\n"),
  ...resp("GET", ""),
  ...enc.encode("*0\r\n\r\n"),
  ...enc.encode("SET q \"a\\x41\" 'b c'\n"),
  ...resp("DEL", "a", "b", "c"),
]);
const want = [
  ["SET", "k", "v\r\nwith crlf"],
  ["PING"],
  ["GET", ""],
  ["SET", "q", "aA", "b c"],
  ["DEL", "a", "b", "c"],
];

test("a stream split at every boundary parses to the same commands", () => {
  expect(collect(new RespParser(limits), [stream]).cmds).toEqual(want);
  for (let cut = 1; cut < stream.length; cut++) {
    const got = collect(new RespParser(limits), [stream.subarray(0, cut), stream.subarray(cut)]);
    expect(got.cmds).toEqual(want);
  }
  const bytes = Array.from(stream, (b) => new Uint8Array([b]));
  const p = new RespParser(limits);
  expect(collect(p, bytes).cmds).toEqual(want);
  expect(p.buffered).toBe(0);
  expect(p.partialSince).toBe(0);
});

test("pausing keeps the rest; resume goes on from there", () => {
  for (let at = 1; at <= want.length; at++) {
    expect(collect(new RespParser(limits), [stream], at).cmds).toEqual(want);
  }
});

test("limits: arguments, command bytes, inline length", () => {
  const many = resp(...Array.from({ length: 65 }, () => "x"));
  const p1 = new RespParser(limits);
  expect(collect(p1, [many]).r).toBe(Feed.ERROR);
  expect(p1.error).toBe("Protocol error: invalid multibulk length");
  const p2 = new RespParser(limits);
  expect(collect(p2, [enc.encode("*1\r\n$1025\r\n")]).r).toBe(Feed.ERROR);
  expect(p2.error).toBe("Protocol error: invalid bulk length");
  const p3 = new RespParser(limits);
  const big = resp(...Array.from({ length: 40 }, () => "y".repeat(40)));
  expect(collect(p3, [big.subarray(0, 1200)]).r).toBe(Feed.ERROR);
  expect(p3.error).toContain("command exceeds 1024 bytes");
  const p4 = new RespParser(limits);
  expect(collect(p4, [enc.encode("x".repeat(101))]).r).toBe(Feed.ERROR);
  expect(p4.error).toBe("Protocol error: too big inline request");
});

test("inline splitting follows sdssplitargs", () => {
  const s = (t: string) =>
    splitInline(enc.encode(t), 0, t.length)?.map((b) => dec.decode(b)) ?? null;
  expect(s("  a  b ")).toEqual(["a", "b"]);
  expect(s("\"x y\" 'it\\'s'")).toEqual(["x y", "it's"]);
  expect(s('"a\\n\\x00"')).toEqual(["a\n\0"]);
  expect(s('"open')).toBeNull();
  expect(s('"a"b')).toBeNull();
});

test("writer: shapes in RESP2 and RESP3", () => {
  const w = new RespWriter();
  const out = (f: () => void) => {
    f();
    return dec.decode(w.take());
  };
  w.proto = 2;
  expect(out(() => w.value("OK", Shape.DEFAULT))).toBe("+OK\r\n");
  expect(out(() => w.value(42, Shape.DEFAULT))).toBe(":42\r\n");
  expect(out(() => w.value(-7, Shape.DEFAULT))).toBe(":-7\r\n");
  expect(out(() => w.value("9007199254740993", Shape.INT))).toBe(":9007199254740993\r\n");
  expect(out(() => w.value(1.5, Shape.DOUBLE))).toBe("$3\r\n1.5\r\n");
  expect(out(() => w.value(Infinity, Shape.DOUBLE))).toBe("$3\r\ninf\r\n");
  expect(out(() => w.value(null, Shape.DEFAULT))).toBe("$-1\r\n");
  expect(out(() => w.value([enc.encode("a"), 1], Shape.SCORES))).toBe(
    "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
  );
  expect(out(() => w.value([enc.encode("f"), enc.encode("v")], Shape.MAP))).toBe(
    "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
  );
  w.proto = 3;
  expect(out(() => w.value(null, Shape.DEFAULT))).toBe("_\r\n");
  expect(out(() => w.value(1.5, Shape.DOUBLE))).toBe(",1.5\r\n");
  expect(out(() => w.value([enc.encode("f"), enc.encode("v")], Shape.MAP))).toBe(
    "%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
  );
  expect(out(() => w.value([enc.encode("m")], Shape.SET))).toBe("~1\r\n$1\r\nm\r\n");
  expect(out(() => w.value([enc.encode("a"), 2], Shape.SCORES))).toBe(
    "*1\r\n*2\r\n$1\r\na\r\n,2\r\n",
  );
  expect(out(() => w.bool(true))).toBe("#t\r\n");
  expect(out(() => w.status("a\r\nb"))).toBe("+a  b\r\n");
});

test("native errors get Redis's prefixes", () => {
  expect(
    redisError(
      Code.WRONG_TYPE,
      "WRONGTYPE Operation against a key holding the wrong kind of value",
    ),
  )
    .toBe("WRONGTYPE Operation against a key holding the wrong kind of value");
  expect(redisError(Code.NOT_INTEGER, "value is not an integer or out of range")).toBe(
    "ERR value is not an integer or out of range",
  );
  expect(redisError(Code.NOT_LEADER, "not leader; leader is node 2 at 127.0.0.1:5220")).toBe(
    "READONLY You can't write against a read only replica. (TinyKV follower: not leader; leader is node 2 at 127.0.0.1:5220)",
  );
  expect(redisError(Code.UNAVAILABLE, "no leader elected yet; retry shortly")).toBe(
    "CLUSTERDOWN no leader elected yet; retry shortly",
  );
  expect(redisError(Code.BUSY, "server busy: 10 batches pending")).toBe(
    "BUSY server busy: 10 batches pending",
  );
  expect(unknownCommand([enc.encode("foo"), enc.encode("a")])).toBe(
    "ERR unknown command 'foo', with args beginning with: 'a' ",
  );
});
