import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createUdpTransportWith } from "../../transports/udp/udp_transport.ts";
import { bindNodeSocket } from "../../transports/udp/node_socket.ts";
import { runUdpChecks } from "./loopback_checks.ts";

const ALL = ["echo", "echo through 5% loss proxy", "too_large", "connect failure"];

test("udp transport on Bun (Bun.udpSocket): echo, fragmented, lossy proxy, too_large", async () => {
  expect(await runUdpChecks()).toEqual(ALL);
}, 60_000);

test("udp transport with the node:dgram adapter: the same checks pass", async () => {
  expect(await runUdpChecks(createUdpTransportWith(bindNodeSocket))).toEqual(ALL);
}, 60_000);

test("udp transport on Deno (Deno.listenDatagram via deno.json unstable net)", () => {
  const r = spawnSync("node_modules/.bin/deno", ["run", "-A", "tests/udp/loopback_checks.ts"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr.includes("Error") ? r.stderr : "").toBe("");
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toEqual(ALL);
}, 70_000);
