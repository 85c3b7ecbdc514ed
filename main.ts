#!/usr/bin/env bun
/**
 * TinyKV's command line: `client ...` (the CLI client), `cluster ...` (a local cluster), or a
 * node. `mod.ts` runs {@link main} when it is the program (`deno run -A mod.ts ...`,
 * `bun mod.ts ...`); `main.ts` may be run directly as well.
 * @module
 */
import process from "node:process";

/** Runs the command line `argv` (without the runtime and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "client") {
    const { runClientCli } = await import("./cli/client.ts");
    return await runClientCli(argv.slice(1));
  }
  if (argv[0] === "snapshot") {
    const { runSnapshotCli } = await import("./cli/snapshot.ts");
    return await runSnapshotCli(argv.slice(1));
  }
  if (argv[0] === "cluster") {
    const { runClusterCli } = await import("./cli/cluster.ts");
    return await runClusterCli(argv.slice(1));
  }
  const { runNodeCli } = await import("./cli/node.ts");
  return await runNodeCli(argv);
}

/** Runs {@link main} on the process's arguments and exits with its code. */
export function runMain(): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

// No top-level await: see mod.ts.
if (import.meta.main) runMain();
