/**
 * What every `tessera` command shares on the way out: terminal-safe text, the one-line error
 * report, and the exit code each kind of error gets.
 * @module
 */
import { ConfigurationError } from "../errors.js";
import { UsageError } from "./args.js";
import { ConfigFileError, MissingConfigError } from "./config.js";

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

/** Whether `error` means "fix how you ran it" (exit 2) rather than "it failed" (exit 1). */
function isUsageError(error: unknown): boolean {
  // Every configuration mistake, whether no store, an unusable --config file or invalid options
  // inside one, is the same kind of error with the same exit code.
  return error instanceof UsageError || error instanceof MissingConfigError || error instanceof ConfigFileError || error instanceof ConfigurationError;
}

/**
 * Writes one line about `error` to `stderr` (and, with `verbose`, the stack of an unexpected
 * one), then returns its exit code. `help` names the command whose `--help` explains usage.
 */
export function reportError(error: unknown, options: { verbose: boolean; help: string; stderr: (text: string) => void }): number {
  const usage = isUsageError(error);
  const message = error instanceof Error ? error.message : String(error);
  // Tessera's errors start with "[tessera] "; the line already says who is speaking.
  const line = `tessera: ${printable(message.replace(/^\[tessera\] /, "").replace(/\s*\n\s*/g, " "))}`;
  options.stderr(`${line}${error instanceof UsageError ? ` Run "${options.help}" for usage.` : ""}\n`);
  // A stack helps find where a bad option came from; for a mistyped command line it is noise.
  const explained = error instanceof UsageError || error instanceof MissingConfigError || error instanceof CommandError;
  if (options.verbose && !explained) options.stderr(`${describeStack(error).split("\n").map(printable).join("\n")}\n`);
  return usage ? EXIT_USAGE : EXIT_FAILURE;
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\nCaused by: ");
}
