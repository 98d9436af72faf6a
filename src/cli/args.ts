/**
 * The `tessera` command line: which commands exist, their help texts, and turning `argv` into
 * a checked request. No I/O here, so every rule is easy to test.
 * @module
 */
import { parseArgs } from "node:util";

/** The commands `tessera` runs. */
export type CommandName = "migrate" | "clearsessions" | "sql";

interface CommandSpec {
  /** The arguments after the command name, as shown in usage lines. */
  readonly args: string;
  /** How many positional arguments the command takes. */
  readonly positionals: number;
  /** Whether it needs a configured session store (`--config` or TESSERA_DATABASE_URL). */
  readonly needsStore: boolean;
  readonly summary: string;
  readonly details: string;
}

export const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  migrate: {
    args: "",
    positionals: 0,
    needsStore: true,
    summary: "Create or upgrade the session table (safe to run on every deploy).",
    details:
      "Applies the schema steps the database lacks, each recorded in tessera_migrations, so running\n" +
      "it again changes nothing. SQLite also migrates itself on first use; PostgreSQL and MySQL need it.",
  },
  clearsessions: {
    args: "",
    positionals: 0,
    needsStore: true,
    summary: "Delete expired sessions (run it from cron, e.g. daily).",
    details:
      "Deletes every session whose expiry has passed and prints how many, like Django's clearsessions.\n" +
      "Stores that expire sessions on their own (cache, signed cookies) have nothing to delete.",
  },
  sql: {
    args: "<sqlite|postgres|mysql>",
    positionals: 1,
    needsStore: false,
    summary: "Print the schema as SQL, for teams that keep their own migrations.",
    details: "Prints the DDL that `tessera migrate` would apply to an empty database. Needs no configuration.",
  },
};

const STORE_OPTION = `  -c, --config <file>  A JS module whose default export (or export \`sessions\`) is the object
                       createSessions() returns, or the options to pass to it.`;
const COMMON_OPTIONS = `  -v, --verbose        Print stack traces with errors.
  -h, --help           Show help.`;
const STORE_NOTE = `Without --config, the store is databaseBackend({ url: $TESSERA_DATABASE_URL }),
e.g. TESSERA_DATABASE_URL=sqlite:sessions.sqlite3 or postgres://user:pass@host/app.`;

/** `tessera --help`. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`);
  // `sessions` has subcommands and its own options, so it parses itself (src/cli/sessions.ts).
  lines.push(`  ${"sessions".padEnd(width)}  List, show and delete sessions, or end a user's (see "tessera sessions --help").`);
  return `Usage: tessera <command> [options]

Commands:
${lines.join("\n")}

Options:
${STORE_OPTION}
${COMMON_OPTIONS}
      --version        Show the version.

${STORE_NOTE}

Run "tessera <command> --help" for a command's details.
`;
}

/** `tessera <command> --help`. */
export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name];
  const usage = ["tessera", name, spec.args, spec.needsStore ? "[--config <file>]" : ""].filter(Boolean).join(" ");
  const options = spec.needsStore ? `${STORE_OPTION}\n${COMMON_OPTIONS}\n\n${STORE_NOTE}` : COMMON_OPTIONS;
  return `Usage: ${usage}

${spec.summary}
${spec.details}

Options:
${options}
`;
}

/**
 * The command cannot run as invoked (exit code 2): a mistake on the command line, or no usable
 * configuration (no store named, a config file that cannot be used). The one line says what to
 * fix; a command-line mistake also points to `--help`.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** Whether the report adds 'Run "… --help" for usage.' (false when the fix is in the configuration). */
  readonly pointsToHelp: boolean;

  constructor(message: string, options: { readonly cause?: unknown; readonly pointsToHelp?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.pointsToHelp = options.pointsToHelp ?? true;
  }
}

/** What the user asked for. */
export type Invocation =
  | { readonly kind: "help"; readonly command: CommandName | undefined }
  | { readonly kind: "version" }
  | {
      readonly kind: "run";
      readonly command: CommandName;
      readonly args: readonly string[];
      readonly config: string | undefined;
      readonly verbose: boolean;
    };

/** An option a command takes: its type, short letter, and (for a string) what its value is. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** Completes "--name needs …", e.g. "a file path, e.g. --config tessera.config.js". */
  readonly needs?: string;
}

/** The options every store-using command takes. */
export const STORE_OPTIONS = {
  config: { type: "string", short: "c", needs: "a file path, e.g. --config tessera.config.js" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
} as const satisfies Record<string, OptionSpec>;

const MAIN_OPTIONS = { ...STORE_OPTIONS, version: { type: "boolean" } } as const satisfies Record<string, OptionSpec>;

/**
 * Parses `argv` against `options` and checks every option, so all commands word the same
 * mistakes the same way. Throws `UsageError`.
 */
export function parseOptions(
  argv: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  // Not strict: parseArgs's own messages are long and name `<value>`; ours say what to do.
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: false, options: { ...options } });
  for (const [name, value] of Object.entries(values)) {
    const flag = name.length === 1 ? `-${name}` : `--${name}`;
    const spec = Object.hasOwn(options, name) ? options[name] : undefined;
    if (spec === undefined) throw new UsageError(`unknown option ${flag}.`);
    if (spec.type === "string" && (typeof value !== "string" || value === "")) throw new UsageError(`${flag} needs ${spec.needs ?? "a value"}.`);
    if (spec.type === "boolean" && typeof value !== "boolean") throw new UsageError(`${flag} takes no value.`);
  }
  return { values: values as Record<string, string | boolean | undefined>, positionals };
}

/** Whether `--verbose` is among the arguments, even when the rest fails to parse. */
export function wantsVerbose(argv: readonly string[]): boolean {
  return argv.includes("--verbose") || argv.includes("-v");
}

/** Parses `argv` (without node and the script). Throws `UsageError` on anything it cannot run. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const { values, positionals } = parseOptions(argv, MAIN_OPTIONS);
  const config = typeof values["config"] === "string" ? values["config"] : undefined;
  let [first, ...rest] = positionals;

  // `tessera help [command]` reads as naturally as `tessera [command] --help`.
  let help = values["help"] === true;
  if (first === "help") {
    help = true;
    [first, ...rest] = rest;
  }
  if (values["version"] === true && first === undefined) return { kind: "version" };
  if (first === undefined) {
    if (help) return { kind: "help", command: undefined };
    throw new UsageError("missing command.");
  }
  if (!isCommand(first)) throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: ${ALL_COMMANDS.join(", ")}).`);
  if (help) return { kind: "help", command: first };

  const spec = COMMANDS[first];
  if (rest.length > spec.positionals) throw new UsageError(`${first} takes ${describeArgs(spec)}; unexpected ${JSON.stringify(rest[spec.positionals])}.`);
  if (rest.length < spec.positionals) throw new UsageError(`${first} needs ${spec.args}.`);
  return { kind: "run", command: first, args: rest, config, verbose: values["verbose"] === true };
}

/** Every command, `sessions` (which parses its own arguments) included. */
const ALL_COMMANDS: readonly string[] = [...Object.keys(COMMANDS), "sessions"];

function describeArgs(spec: CommandSpec): string {
  return spec.positionals === 0 ? "no arguments" : spec.args;
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}
