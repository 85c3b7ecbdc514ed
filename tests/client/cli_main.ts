/** Runs the CLI client as a program (used to test it under Deno from the Bun test runner). */
import process from "node:process";
import { runClientCli } from "../../cli/client.ts";

process.exit(await runClientCli(process.argv.slice(2)));
