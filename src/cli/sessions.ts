/**
 * `tessera sessions list|show|delete|clear-user`: the admin page's powers for scripts and
 * terminals, through the public API only (`sessions.options.backend.listSessions`, `deleteById`,
 * `deleteByUser`), with `--json` output.
 *
 * Sessions are named by id (the SHA-256 the store keeps). `show` and `delete` also take a session
 * key, which they hash; a key given as `-` is read from standard input, so it stays out of shell
 * history and the process list.
 * @module
 */
import { Buffer } from "node:buffer";
import { decodeCursor } from "../backends/listing.js";
import { gatewayOf, type BackendGateway, type Capability } from "../gateway.js";
import type { SessionListQuery, Sessions, StoredSession } from "../index.js";
import { hashKey, isSessionId, isValidKey } from "../keys.js";
import { parseOptions, STORE_OPTIONS, UsageError, wantsVerbose, type OptionSpec } from "./args.js";
import { loadSessions } from "./config.js";
import { CommandError, printable, reportError, terminalJson, withSessions, type Reporter } from "./output.js";

/** What the command reads and writes; the real process in `main.ts`, buffers in tests. */
export interface SessionsCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The whole of standard input, for a key given as `-`. */
  readonly readStdin: () => Promise<string>;
  /** Used instead of `--config` / TESSERA_DATABASE_URL (tests). */
  readonly sessions?: Sessions;
}

const SUBCOMMANDS = ["list", "show", "delete", "clear-user"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The process's whole standard input, as text (for a key given as `-`). */
export async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

/** `tessera sessions --help`. */
export const SESSIONS_HELP = `Usage: tessera sessions <list|show|delete|clear-user> [options]

Inspect and end sessions, as the admin page does. Sessions are named by id (the hash the
store keeps), never by key.

  list                      Newest first, one page at a time.
      --user <id>           Only this app user's sessions.
      --state <s>           active, expired or all (default all).
      --limit <n>           Sessions per page, 1 to 1000 (default 50).
      --after <cursor>      The next page, from a previous list.
      --key -               Only the session of the key read from standard input.
  show <id|key|->           One session with its data.
  delete <id|key|->...      Delete sessions (their users are signed out).
  clear-user <user-id>      End every session of a user ("sign out everywhere").

Options:
      --json                Machine-readable output.
  -c, --config <file>       A JS module exporting createSessions(...) or its options.
  -v, --verbose             Print stack traces with errors.
  -h, --help                Show help.

Without --config, the store is databaseBackend({ url: $TESSERA_DATABASE_URL }).
A key given as - is read from standard input, keeping it out of shell history.
`;

/** Runs `tessera sessions …` (argv after "sessions") and returns the exit code: 0, 1 failed, 2 usage. */
export async function sessionsCommand(argv: readonly string[], io: SessionsCommandIo): Promise<number> {
  const reporter: Reporter = { verbose: wantsVerbose(argv), help: "tessera sessions --help", stderr: io.stderr };
  let values: Values;
  let sub: Subcommand;
  let rest: string[];
  try {
    const parsed = parse(argv);
    values = parsed.values;
    const [first, ...others] = parsed.positionals;
    if (values.help === true || first === undefined || first === "help") {
      io.stdout(SESSIONS_HELP);
      return first === undefined && values.help !== true ? 2 : 0;
    }
    if (!isSubcommand(first)) throw new UsageError(`unknown sessions command ${JSON.stringify(first)} (commands: ${SUBCOMMANDS.join(", ")}).`);
    checkPositionals(first, others);
    [sub, rest] = [first, others];
  } catch (error) {
    return reportError(error, reporter);
  }
  return withSessions(
    reporter,
    // These commands only read and delete: a mistyped sqlite: path must not create an empty database.
    () => io.sessions ?? loadSessions(values.config, io.env, io.cwd, { mayCreate: false }),
    async (sessions) => {
      const run = new Runner(sessions, io, values.json === true);
      if (sub === "list") await run.list(values);
      else if (sub === "show") await run.show(await run.idOf(rest[0] as string));
      else if (sub === "delete") await run.delete(rest);
      else await run.clearUser(rest[0] as string);
    },
    io.sessions === undefined,
  );
}

type Values = {
  json?: boolean;
  help?: boolean;
  verbose?: boolean;
  config?: string;
  user?: string;
  state?: string;
  limit?: string;
  after?: string;
  key?: string;
};

const OPTIONS = {
  ...STORE_OPTIONS,
  json: { type: "boolean" },
  user: { type: "string", needs: "a user id" },
  state: { type: "string", needs: "active, expired or all" },
  limit: { type: "string", needs: "a whole number from 1 to 1000" },
  after: { type: "string", needs: "the cursor a previous list printed" },
  key: { type: "string", needs: "- (the key is then read from standard input)" },
} as const satisfies Record<string, OptionSpec>;

function parse(argv: readonly string[]): { values: Values; positionals: string[] } {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  return { values: values as Values, positionals };
}

function isSubcommand(name: string): name is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(name);
}

function checkPositionals(sub: Subcommand, rest: readonly string[]): void {
  const expected = { list: [0, 0], show: [1, 1], delete: [1, Infinity], "clear-user": [1, 1] }[sub];
  const usage = { list: "no arguments", show: "one session id or key", delete: "session ids or keys", "clear-user": "one user id" }[sub];
  if (rest.length < (expected[0] as number) || rest.length > (expected[1] as number)) throw new UsageError(`sessions ${sub} takes ${usage}.`);
}

/** A session as the CLI prints it. */
interface SessionView {
  readonly id: string;
  readonly userId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string;
  readonly active: boolean;
  readonly size: number;
}

class Runner {
  readonly #sessions: Sessions;
  readonly #io: SessionsCommandIo;
  readonly #json: boolean;

  constructor(sessions: Sessions, io: SessionsCommandIo, json: boolean) {
    this.#sessions = sessions;
    this.#io = io;
    this.#json = json;
  }

  /** The sessions' backend gateway, if the backend offers `capability`; otherwise the gateway's reason why not (exit 1). */
  #store(capability: Capability): BackendGateway {
    const store = gatewayOf(this.#sessions.options);
    if (!store.supports(capability)) throw new CommandError(store.lacks(capability));
    return store;
  }

  /** A session id from an id, a key (hashed here), or "-" (a key on standard input). */
  async idOf(argument: string): Promise<string> {
    const value = argument === "-" ? (await this.#io.readStdin()).trim() : argument;
    if (isSessionId(value)) return value;
    if (isValidKey(value)) return hashKey(value);
    throw new UsageError(`${argument === "-" ? "standard input" : JSON.stringify(value)} is neither a session id (64 hex characters) nor a session key.`);
  }

  #view(record: StoredSession & { readonly id: string }, now: number): SessionView {
    return {
      id: record.id,
      userId: record.userId,
      createdAt: iso(record.createdAt),
      updatedAt: iso(record.updatedAt),
      expiresAt: iso(record.expiresAt),
      active: record.expiresAt > now,
      size: Buffer.byteLength(record.data),
    };
  }

  #print(value: unknown, text: string): void {
    this.#io.stdout(this.#json ? `${terminalJson(value)}\n` : text);
  }

  async list(values: Values): Promise<void> {
    const store = this.#store("listSessions");
    const state = values.state ?? "all";
    if (state !== "active" && state !== "expired" && state !== "all") throw new UsageError("--state must be active, expired or all.");
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit must be a whole number from 1 to 1000.");
    if (values.key !== undefined && values.key !== "-")
      throw new UsageError("--key takes - and reads the key from standard input, so it stays out of shell history.");
    // A cursor that does not decode would silently list from the newest session again.
    if (values.after !== undefined && decodeCursor(values.after) === undefined)
      throw new UsageError('--after needs the cursor a previous list printed after "More:"; this one is not valid.');
    const now = this.#sessions.options.clock();
    const query: SessionListQuery = {
      limit,
      state,
      now,
      ...(values.user !== undefined ? { userId: values.user } : {}),
      ...(values.after !== undefined ? { after: values.after } : {}),
      ...(values.key !== undefined ? { id: await this.idOf("-") } : {}),
    };
    const page = await store.listSessions(query);
    const views = page.sessions.map((s) => this.#view(s, now));
    // Whole ids: show and delete take exactly what is printed here.
    const rows = views.map((v) => [
      v.id,
      v.createdAt,
      v.updatedAt,
      v.expiresAt,
      v.userId === null ? "-" : printable(v.userId),
      `${v.size} B`,
      v.active ? "active" : "expired",
    ]);
    const table = views.length === 0 ? "No sessions match.\n" : columns([["ID", "CREATED", "LAST ACTIVITY", "EXPIRES", "USER", "SIZE", "STATE"], ...rows]);
    const more =
      page.next === undefined
        ? ""
        : `More: tessera sessions list --after ${page.next}${values.user !== undefined ? ` --user ${printable(shellQuote(values.user))}` : ""}${state !== "all" ? ` --state ${state}` : ""}${values.limit !== undefined ? ` --limit ${limit}` : ""}\n`;
    this.#print({ sessions: views, next: page.next ?? null }, table + more);
  }

  async show(id: string): Promise<void> {
    const store = this.#store("listSessions");
    const now = this.#sessions.options.clock();
    const record = (await store.listSessions({ limit: 1, id, state: "all", now })).sessions[0];
    if (record === undefined) throw new CommandError(`no session has the id ${id}.`);
    let data: unknown;
    try {
      data = JSON.parse(record.data);
    } catch {
      data = record.data;
    }
    const view = { ...this.#view(record, now), version: record.version, data };
    const lines = [
      `ID             ${view.id}`,
      `User           ${view.userId === null ? "-" : printable(view.userId)}`,
      `State          ${view.active ? "active" : "expired"}`,
      `Created        ${view.createdAt}`,
      `Last activity  ${view.updatedAt}`,
      `Expires        ${view.expiresAt}`,
      `Size           ${view.size} B`,
      `Version        ${view.version}`,
      `Data`,
      terminalJson(data),
    ];
    this.#print(view, `${lines.join("\n")}\n`);
  }

  async delete(args: readonly string[]): Promise<void> {
    const store = this.#store("deleteById");
    const ids = [...new Set(await Promise.all(args.map((a) => this.idOf(a))))];
    let deleted = 0;
    for (const id of ids) {
      // Count only what existed, when the store can tell; deleting a missing id is no error.
      const existed =
        !store.supports("listSessions") || (await store.listSessions({ limit: 1, id, state: "all", now: this.#sessions.options.clock() })).sessions.length > 0;
      await store.deleteById(id);
      if (existed) deleted++;
    }
    this.#print({ deleted }, `Deleted ${deleted} ${deleted === 1 ? "session" : "sessions"}.\n`);
  }

  async clearUser(userId: string): Promise<void> {
    const ended = await this.#store("deleteByUser").deleteByUser(userId);
    this.#print({ userId, ended }, `Ended ${ended} ${ended === 1 ? "session" : "sessions"} of user ${printable(userId)}.\n`);
  }
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** Left-aligned columns separated by two spaces. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n") + "\n";
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.@:-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}
