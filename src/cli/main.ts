#!/usr/bin/env node
/**
 * The `tessera` command: `migrate`, `clearsessions`, `sql <dialect>`, `sessions …` (see sessions.ts).
 * Exit codes: 0 done, 1 the command failed, 2 it was invoked wrongly or the configuration is unusable.
 * @module
 */
import { readFileSync } from "node:fs";
import { commandHelp, mainHelp, parseCommandLine, wantsVerbose, type Invocation } from "./args.js";
import { clearSessions, migrate, sql, type Print } from "./commands.js";
import { loadSessions } from "./config.js";
import { reportError, withSessions, type Reporter } from "./output.js";
import { readProcessStdin, sessionsCommand } from "./sessions.js";

async function main(argv: readonly string[]): Promise<number> {
  const print: Print = (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  // `tessera sessions list|show|delete|clear-user` parses its own subcommands and options.
  if (argv[0] === "sessions")
    return sessionsCommand(argv.slice(1), {
      stdout: print,
      stderr: (text) => process.stderr.write(text),
      env: process.env,
      cwd: process.cwd(),
      readStdin: readProcessStdin,
    });
  const reporter: Reporter = { verbose: wantsVerbose(argv), help: "tessera --help", stderr: (text) => process.stderr.write(text) };
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (error) {
    return reportError(error, reporter);
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
      return reportError(error, reporter);
    }
  }

  const { command, config } = invocation;
  return withSessions(
    reporter,
    // Only migrate may create the database; clearsessions on a mistyped path must not "succeed".
    () => loadSessions(config, process.env, process.cwd(), { mayCreate: command === "migrate" }),
    (sessions) => (command === "migrate" ? migrate(sessions, print) : clearSessions(sessions, print)),
  );
}

function readVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return String(pkg.version);
}

process.exitCode = await main(process.argv.slice(2));
