#!/usr/bin/env node
/**
 * The `tessera` command: `migrate`, `clearsessions`, `sql <dialect>`, `sessions …` (see sessions.ts).
 * Exit codes: 0 done, 1 the command failed, 2 it was invoked wrongly or the configuration is unusable.
 * @module
 */
import { readFileSync } from "node:fs";
import type { Sessions } from "../index.js";
import { commandHelp, mainHelp, parseCommandLine, wantsVerbose, type Invocation } from "./args.js";
import { clearSessions, migrate, sql, type Print } from "./commands.js";
import { loadSessions } from "./config.js";
import { reportError } from "./output.js";
import { readProcessStdin, sessionsCommand } from "./sessions.js";

async function main(argv: readonly string[]): Promise<number> {
  const print: Print = (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  // `tessera sessions list|show|delete|clear-user` parses its own subcommands and options.
  if (argv[0] === "sessions") return sessionsCommand(argv.slice(1), { stdout: print, stderr: (text) => process.stderr.write(text), env: process.env, cwd: process.cwd(), readStdin: readProcessStdin });
  const verbose = wantsVerbose(argv);
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (error) {
    return report(error, verbose);
  }

  switch (invocation.kind) {
    case "help":
      print(invocation.command === undefined ? mainHelp() : commandHelp(invocation.command));
      return 0;
    case "version":
      print(readVersion());
      return 0;
    case "run":
      break;
  }

  if (invocation.command === "sql") {
    try {
      sql(invocation.args[0] ?? "", print);
      return 0;
    } catch (error) {
      return report(error, verbose);
    }
  }

  let sessions: Sessions | undefined;
  let code = 0;
  try {
    // Only migrate may create the database; clearsessions on a mistyped path must not "succeed".
    sessions = await loadSessions(invocation.config, process.env, process.cwd(), { mayCreate: invocation.command === "migrate" });
    if (invocation.command === "migrate") await migrate(sessions, print);
    else await clearSessions(sessions, print);
  } catch (error) {
    code = report(error, verbose);
  } finally {
    // Always release the connections, or a pool would keep the process alive.
    try {
      await sessions?.close();
    } catch (error) {
      code = Math.max(code, report(error, verbose));
    }
  }
  return code;
}

/** Prints one line (or the stack with --verbose) and returns the exit code for `error`. */
function report(error: unknown, verbose: boolean): number {
  return reportError(error, { verbose, help: "tessera --help", stderr: (text) => process.stderr.write(text) });
}

function readVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return String(pkg.version);
}

process.exitCode = await main(process.argv.slice(2));
