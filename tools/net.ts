/**
 * Free loopback ports, for tests and benchmarks that start servers.
 * @module
 */
import net from "node:net";

/** A free loopback port (bound, then released for the caller to use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
