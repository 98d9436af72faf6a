/**
 * What every `tessera` command shares on the way out: terminal-safe text, the one-line error
 * report, and the exit code each kind of error gets.
 * @module
 */
import { ConfigurationError } from "../errors.js";
import type { Sessions } from "../index.js";
import { UsageError } from "./args.js";

/** Exit code of a command that ran and failed. */
export const EXIT_FAILURE = 1;
/** Exit code of a command invoked wrongly, or with no usable configuration. */
export const EXIT_USAGE = 2;

/** A failure to report in one line without a stack (a missing session, a store that cannot list). */
export class CommandError extends Error {
  override readonly name = "CommandError";
}

// C0 and C1 controls (ESC, CSI, …) and DEL can move the cursor, retitle the terminal or hide
// text; bidi overrides can reorder what is shown. Newlines too: a value is one line or cell.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// JSON.stringify already escapes C0 controls; these it leaves raw.
const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** A value from a store or the user (a user id, session data), safe for a terminal: controls become `\u….` escapes. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

/** `value` as indented JSON that is still valid JSON but holds no raw terminal control character. */
export function terminalJson(value: unknown): string {
  return (JSON.stringify(value, null, 2) ?? "null").replace(UNPRINTABLE_IN_JSON, escapeChar);
}

/** Where and how a command reports its failures. */
export interface Reporter {
  readonly verbose: boolean;
  /** The command whose `--help` explains usage, e.g. "tessera sessions --help". */
  readonly help: string;
  readonly stderr: (text: string) => void;
}

/**
 * Writes one line about `error` to `stderr` (and, with `verbose`, the stack of an unexpected
 * one), then returns its exit code: 2 for "fix how you ran it" (a UsageError, or a
 * configuration mistake, whether no store, an unusable config file or invalid options inside
 * one), 1 for "it failed".
 */
export function reportError(error: unknown, reporter: Reporter): number {
  const message = error instanceof Error ? error.message : String(error);
  // Tessera's errors start with "[tessera] "; the line already says who is speaking.
  const line = `tessera: ${printable(message.replace(/^\[tessera\] /, "").replace(/\s*\n\s*/g, " "))}`;
  const pointsToHelp = error instanceof UsageError && error.pointsToHelp;
  reporter.stderr(`${line}${pointsToHelp ? ` Run "${reporter.help}" for usage.` : ""}\n`);
  // A stack helps find where a bad option or a failing config module came from; for a mistyped
  // command line or a missing file it is noise.
  const explained = (error instanceof UsageError && error.cause === undefined) || error instanceof CommandError;
  if (reporter.verbose && !explained) reporter.stderr(`${describeStack(error).split("\n").map(printable).join("\n")}\n`);
  return error instanceof UsageError || error instanceof ConfigurationError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * Opens the sessions, runs `command` on them, and always closes them afterwards (an open pool
 * would keep the process alive), unless `close` is false (sessions the caller owns). Every
 * failure is reported once through `reporter`; returns the exit code.
 */
export async function withSessions(
  reporter: Reporter,
  open: () => Sessions | Promise<Sessions>,
  command: (sessions: Sessions) => Promise<void>,
  close = true,
): Promise<number> {
  let sessions: Sessions | undefined;
  let code = 0;
  try {
    sessions = await open();
    await command(sessions);
  } catch (error) {
    code = reportError(error, reporter);
  } finally {
    try {
      if (close) await sessions?.close();
    } catch (error) {
      code = Math.max(code, reportError(error, reporter));
    }
  }
  return code;
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\nCaused by: ");
}
