/**
 * Operating-system errors at start-up in words: what an operator reads instead of `EACCES`,
 * `Failed to listen at 127.0.0.1` (Bun) or `Permission denied (os error 13)` (Deno), the same on
 * both runtimes.
 * @module
 */

/** The error's errno code (`EACCES`), also for Deno's named errors, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code)) return e.code;
  const name = typeof e?.name === "string" ? e.name : "";
  const msg = typeof e?.message === "string" ? e.message : "";
  if (name === "PermissionDenied" || /permission denied|os error 13\b/i.test(msg)) return "EACCES";
  if (name === "AddrInUse" || /address already in use|in use/i.test(msg)) return "EADDRINUSE";
  if (name === "AddrNotAvailable" || /cannot assign requested address/i.test(msg)) {
    return "EADDRNOTAVAIL";
  }
  if (name === "NotFound" || /no such file or directory|os error 2\b/i.test(msg)) return "ENOENT";
  return undefined;
}

const WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "part of the path is a file, not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EMFILE: "too many open files (raise ulimit -n)",
};

/** A file error in words (`permission denied`), else its message's first line. */
export function fileProblem(err: unknown): string {
  const code = errnoCode(err);
  if (code !== undefined && WORDS[code] !== undefined) return WORDS[code];
  const msg = (err as Error | null)?.message;
  return typeof msg === "string" ? msg.split("\n")[0] : code ?? String(err);
}

/**
 * Why a listen on `port` failed, in words: taken, not permitted (ports below 1024 need
 * privileges), an address not on this machine, else the runtime's message's first line.
 */
export function listenProblem(err: unknown, port: number): string {
  switch (errnoCode(err)) {
    case "EADDRINUSE":
      return "address already in use";
    case "EACCES":
    case "EPERM":
      return port > 0 && port < 1024
        ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        : "permission denied";
    case "EADDRNOTAVAIL":
      return "address not available on this machine";
  }
  return String((err as Error)?.message ?? err).split("\n")[0];
}
