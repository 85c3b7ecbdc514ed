/** Small helpers for tests that start servers: free loopback ports (from `tools/net.ts`) and bounded waiting. */
export { freePort } from "../../tools/net.ts";

/** Polls `f` every 10 ms until it returns a value (not undefined); throws after `ms`. */
export async function waitFor<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
