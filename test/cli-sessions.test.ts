/** `tessera sessions list|show|delete|clear-user`, run in-process against real stores. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, hashKey, type Sessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { sessionsCommand } from "../src/cli/sessions.js";

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const MINUTE = 60_000;
const quiet = { warn() {}, error() {} };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], options: { sessions?: Sessions; env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await sessionsCommand(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: options.env ?? {},
    cwd: tmpdir(),
    readStdin: async () => options.stdin ?? "",
    ...(options.sessions ? { sessions: options.sessions } : {}),
  });
  return { code, stdout, stderr };
}

/** Four sessions a minute apart (alice twice, bob, one anonymous that has expired). */
async function seeded(sessions: Sessions, clock: { now: number }) {
  const keys: string[] = [];
  for (const [user, data, expiry] of [
    ["alice", { n: 1 }, undefined],
    ["bob", { n: 2 }, undefined],
    [null, { n: 3 }, 30],
    ["alice", { n: 4, html: "<b>" }, undefined],
  ] as const) {
    clock.now += MINUTE;
    const session = sessions.open();
    await session.update(data);
    if (user !== null) await session.setUser(user);
    if (expiry !== undefined) await session.setExpiry(expiry);
    await session.save();
    keys.push(session.sessionKey as string);
  }
  clock.now += 10 * MINUTE;
  return keys;
}

function memory() {
  const clock = { now: T0 };
  const sessions = createSessions({ backend: memoryBackend(), clock: () => clock.now, logger: quiet });
  return { clock, sessions };
}

const iso = (minutes: number) => new Date(T0 + minutes * MINUTE).toISOString();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("tessera sessions", () => {
  it("list prints newest first with a cursor to the next page, and --json for scripts", async () => {
    const { clock, sessions } = memory();
    const keys = await seeded(sessions, clock);
    const ids = keys.map(hashKey);
    const first = await run(["list", "--limit", "3"], { sessions });
    const header = `${"ID".padEnd(64)}  CREATED                   LAST ACTIVITY             EXPIRES                   USER   SIZE  STATE`;
    const line = (id: string, m: number, user: string, size: string, state: string) =>
      `${id}  ${iso(m)}  ${iso(m)}  ${state === "expired" ? iso(m).replace("12:03:00.000", "12:03:30.000") : new Date(T0 + m * MINUTE + 14 * 86_400_000).toISOString()}  ${user.padEnd(5)}  ${size}  ${state}`;
    const json = JSON.parse((await run(["list", "--limit", "3", "--json"], { sessions })).stdout) as { sessions: { id: string }[]; next: string };
    expect(json.sessions.map((s) => s.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(first).toEqual({
      code: 0,
      stdout: [
        header,
        line(ids[3] as string, 4, "alice", "20 B", "active"),
        line(ids[2] as string, 3, "-", "28 B", "expired"),
        line(ids[1] as string, 2, "bob", "7 B ", "active"),
        `More: tessera sessions list --after ${json.next} --limit 3`,
        "",
      ].join("\n"),
      stderr: "",
    });
    const second = JSON.parse((await run(["list", "--limit", "3", "--after", json.next, "--json"], { sessions })).stdout) as unknown;
    expect(second).toEqual({
      sessions: [
        {
          id: ids[0],
          userId: "alice",
          createdAt: iso(1),
          updatedAt: iso(1),
          expiresAt: new Date(T0 + MINUTE + 14 * 86_400_000).toISOString(),
          active: true,
          size: 7,
        },
      ],
      next: null,
    });
    for (const key of keys) expect(first.stdout + JSON.stringify(json)).not.toContain(key);
  });

  it("list filters by user, by state, and by a key read from standard input", async () => {
    const { clock, sessions } = memory();
    const keys = await seeded(sessions, clock);
    const ids = (r: Run) => (JSON.parse(r.stdout) as { sessions: { id: string }[] }).sessions.map((s) => s.id);
    expect(ids(await run(["list", "--user", "alice", "--json"], { sessions }))).toEqual([hashKey(keys[3] as string), hashKey(keys[0] as string)]);
    expect(ids(await run(["list", "--state", "expired", "--json"], { sessions }))).toEqual([hashKey(keys[2] as string)]);
    expect(ids(await run(["list", "--key", "-", "--json"], { sessions, stdin: `${keys[1]}\n` }))).toEqual([hashKey(keys[1] as string)]);
    expect(await run(["list", "--user", "nobody"], { sessions })).toEqual({ code: 0, stdout: "No sessions match.\n", stderr: "" });
  });

  it("show prints one session with its data, found by id, by key, or by a key on standard input", async () => {
    const { clock, sessions } = memory();
    const keys = await seeded(sessions, clock);
    const id = hashKey(keys[3] as string);
    const expected = [
      `ID             ${id}`,
      "User           alice",
      "State          active",
      `Created        ${iso(4)}`,
      `Last activity  ${iso(4)}`,
      `Expires        ${new Date(T0 + 4 * MINUTE + 14 * 86_400_000).toISOString()}`,
      "Size           20 B",
      "Version        1",
      "Data",
      '{\n  "n": 4,\n  "html": "<b>"\n}',
      "",
    ].join("\n");
    for (const [arg, stdin] of [
      [id, undefined],
      [keys[3] as string, undefined],
      ["-", keys[3] as string],
    ] as const) {
      expect(await run(["show", arg], { sessions, ...(stdin ? { stdin } : {}) })).toEqual({ code: 0, stdout: expected, stderr: "" });
    }
    const json = JSON.parse((await run(["show", id, "--json"], { sessions })).stdout) as Record<string, unknown>;
    expect(json).toEqual({
      id,
      userId: "alice",
      createdAt: iso(4),
      updatedAt: iso(4),
      expiresAt: new Date(T0 + 4 * MINUTE + 14 * 86_400_000).toISOString(),
      active: true,
      size: 20,
      version: 1,
      data: { n: 4, html: "<b>" },
    });
    expect(await run(["show", "f".repeat(64)], { sessions })).toEqual({ code: 1, stdout: "", stderr: `tessera: no session has the id ${"f".repeat(64)}.\n` });
  });

  it("delete and clear-user end sessions and count them", async () => {
    const { clock, sessions } = memory();
    const keys = await seeded(sessions, clock);
    expect(await run(["delete", hashKey(keys[1] as string), keys[2] as string, "f".repeat(64)], { sessions })).toEqual({
      code: 0,
      stdout: "Deleted 2 sessions.\n",
      stderr: "",
    });
    expect(await sessions.open(keys[1]).get("n")).toBeUndefined();
    expect(await run(["clear-user", "alice", "--json"], { sessions })).toEqual({ code: 0, stdout: '{\n  "userId": "alice",\n  "ended": 2\n}\n', stderr: "" });
    expect(await run(["list", "--json"], { sessions }).then((r) => JSON.parse(r.stdout) as unknown)).toEqual({ sessions: [], next: null });
  });

  it("works on SQLite from TESSERA_DATABASE_URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-cli-sessions-"));
    dirs.push(dir);
    const url = `sqlite:${join(dir, "s.sqlite3")}`;
    const writer = createSessions({ backend: databaseBackend({ url }), logger: quiet });
    const session = writer.open();
    await session.set("who", "carol");
    await session.setUser("carol");
    await session.save();
    await writer.close();
    const id = hashKey(session.sessionKey as string);
    const listed = await run(["list", "--json"], { env: { TESSERA_DATABASE_URL: url } });
    expect((JSON.parse(listed.stdout) as { sessions: { id: string; userId: string }[] }).sessions.map((s) => [s.id, s.userId])).toEqual([[id, "carol"]]);
    expect(await run(["clear-user", "carol"], { env: { TESSERA_DATABASE_URL: url } })).toEqual({
      code: 0,
      stdout: "Ended 1 session of user carol.\n",
      stderr: "",
    });
  });

  it("explains usage mistakes (exit 2) and stores that cannot do it (exit 1)", async () => {
    const { sessions } = memory();
    expect(await run(["list", "--state", "old"], { sessions })).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: --state must be active, expired or all. Run "tessera sessions --help" for usage.\n',
    });
    expect(await run(["list", "--key", "abcdefgh12345678"], { sessions })).toMatchObject({ code: 2 });
    expect(await run(["show"], { sessions })).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: sessions show takes one session id or key. Run "tessera sessions --help" for usage.\n',
    });
    expect(await run(["show", "NOT-A-KEY"], { sessions })).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: "NOT-A-KEY" is neither a session id (64 hex characters) nor a session key. Run "tessera sessions --help" for usage.\n',
    });
    expect(await run(["frobnicate"], { sessions })).toMatchObject({
      code: 2,
      stderr: 'tessera: unknown sessions command "frobnicate" (commands: list, show, delete, clear-user). Run "tessera sessions --help" for usage.\n',
    });
    expect((await run(["--help"], { sessions })).stdout).toMatch(/^Usage: tessera sessions <list\|show\|delete\|clear-user> \[options\]\n/);
    expect(await run(["list"], {})).toMatchObject({ code: 2, stdout: "" });
    const cookies = createSessions({ backend: signedCookieBackend(), secret: "cli-sessions-secret-0123456789abcdefghij", logger: quiet });
    expect(await run(["list"], { sessions: cookies })).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tessera: The signed-cookies backend keeps sessions in the visitors' cookies, so the server has none. Use the database, file, Redis or memory backend to list sessions.\n",
    });
  });

  it("lists whole ids, which show and delete accept as printed (issue 13, item 14)", async () => {
    const { clock, sessions } = memory();
    const keys = await seeded(sessions, clock);
    const listed = (await run(["list"], { sessions })).stdout.split("\n");
    const printedId = listed[1]?.split("  ")[0] as string;
    expect(printedId).toBe(hashKey(keys[3] as string));
    expect((await run(["show", printedId], { sessions })).stdout).toContain(`ID             ${printedId}\n`);
    expect(await run(["delete", printedId], { sessions })).toEqual({ code: 0, stdout: "Deleted 1 session.\n", stderr: "" });
  });

  it("escapes terminal control characters in user ids and data, in text and JSON (issue 13, item 6)", async () => {
    const { clock, sessions } = memory();
    const session = sessions.open();
    const evil = "eve\u001b]0;pwned\u0007\u009b2J\u202e\nx";
    await session.update({ note: evil });
    await session.setUser(evil);
    await session.save();
    clock.now += MINUTE;
    const id = hashKey(session.sessionKey as string);
    const shown = "eve\\u001b]0;pwned\\u0007\\u009b2J\\u202e\\u000ax";
    const list = await run(["list"], { sessions });
    const show = await run(["show", id], { sessions });
    const json = await run(["show", id, "--json"], { sessions });
    const cleared = await run(["clear-user", evil], { sessions });
    for (const result of [list, show, json, cleared]) expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(list.stdout.split("\n")[1]).toContain(`  ${shown}  `);
    expect(show.stdout).toContain(`User           ${shown}\n`);
    expect(show.stdout).toContain('"note": "eve\\u001b]0;pwned\\u0007\\u009b2J\\u202e\\nx"');
    // The JSON stays valid and round-trips to the stored value.
    expect((JSON.parse(json.stdout) as { userId: string }).userId).toBe(evil);
    expect(cleared.stdout).toBe(`Ended 1 session of user ${shown}.\n`);
  });

  it("refuses a missing SQLite file instead of creating an empty database (issue 13, item 15)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-cli-sessions-"));
    dirs.push(dir);
    const file = join(dir, "typo.sqlite3");
    for (const argv of [["list"], ["show", "f".repeat(64)], ["delete", "f".repeat(64)], ["clear-user", "carol"]]) {
      expect(await run(argv, { env: { TESSERA_DATABASE_URL: `sqlite:${file}` } })).toEqual({
        code: 2,
        stdout: "",
        stderr: `tessera: the SQLite database ${file} (from TESSERA_DATABASE_URL) does not exist: check the path, or create it with "tessera migrate".\n`,
      });
    }
    expect(existsSync(file)).toBe(false);
  });

  it("rejects a cursor that is not one, and words option mistakes like the other commands (issue 13, item 16)", async () => {
    const { clock, sessions } = memory();
    await seeded(sessions, clock);
    const usage = (text: string) => ({ code: 2, stdout: "", stderr: `tessera: ${text} Run "tessera sessions --help" for usage.\n` });
    expect(await run(["list", "--after", "bogus"], { sessions })).toEqual(
      usage('--after needs the cursor a previous list printed after "More:"; this one is not valid.'),
    );
    expect(await run(["list", "--frobnicate"], { sessions })).toEqual(usage("unknown option --frobnicate."));
    expect(await run(["list", "--user"], { sessions })).toEqual(usage("--user needs a user id."));
    expect(await run(["list", "--config"], { sessions })).toEqual(usage("--config needs a file path, e.g. --config tessera.config.js."));
    expect(await run(["list", "--json=yes"], { sessions })).toEqual(usage("--json takes no value."));
  });
});
