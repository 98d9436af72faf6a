/**
 * The backend conformance suite: the behaviour every Tessera backend must have, as runnable tests.
 * Tessera's own backends all pass it; a third-party backend proves itself the same way:
 *
 * @example
 * import { describe, it } from "vitest"; // or "node:test"
 * import { runBackendSuite } from "tessera-sessions/testing";
 * runBackendSuite({ name: "my store", create: () => myBackend(), describe, it });
 *
 * It needs no particular test runner (assertions are node:assert); pass your runner's
 * `describe` and `it`. Each test gets a fresh backend from `create` and releases it afterwards.
 * @module
 */
import assert from "node:assert/strict";
import type { CookieBackend, ServerBackend, SessionBackend, SessionListQuery, SessionWrite } from "../backends/base.js";
import { CreateError, UpdateError, VersionConflictError } from "../errors.js";
import { generateKey, hashKey } from "../keys.js";
import { createSessions, type Sessions } from "../manager.js";

type TestBody = () => Promise<void>;

/** A runner's `it`/`test`: vitest, node:test, jest and mocha all fit. */
export interface ItFunction {
  (name: string, body: TestBody): unknown;
  skip?: (name: string, body: TestBody) => unknown;
}

/** Options of {@link runBackendSuite}. */
export interface BackendSuiteOptions {
  /** Shown as the suite's name. */
  name: string;
  /**
   * Which contract the backend implements: "server" (keeps records, found by key) or "cookie"
   * (the data travels in the cookie).
   * @default "server"
   */
  kind?: "server" | "cookie";
  /**
   * Whether the backend keeps the user index (listByUser, deleteByUser, deleteById); without it
   * those tests are listed as skipped.
   * @default false
   */
  userIndex?: boolean;
  /**
   * Whether the backend implements `listSessions` (the admin page's listing); without it those
   * tests are listed as skipped.
   * @default false
   */
  listing?: boolean;
  /** Makes a fresh, empty backend for one test. */
  create: () => SessionBackend | Promise<SessionBackend>;
  /** Releases what `create` made (default: `backend.close()`). */
  cleanup?: (backend: SessionBackend) => Promise<void>;
  /** Tests this backend cannot pass, each group with the reason (shown in the skipped test's name). */
  skip?: readonly { reason: string; tests: readonly string[] }[];
  describe: (name: string, body: () => void) => unknown;
  it: ItFunction;
}

/** A secret for suites that need one (cookie backends); 32+ bytes as Tessera requires. */
const SUITE_SECRETS = ["conformance-suite-secret-0123456789abcdef"];
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

function write(data: string, overrides: Partial<SessionWrite> = {}): SessionWrite {
  return { data, expiresAt: T0 + HOUR, userId: null, now: T0, ...overrides };
}

/** A clock the tests move by hand. */
function manualClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** The tests for server-side backends (load/create/update/delete/exists/clearExpired). */
const serverTests: Record<string, (backend: ServerBackend, open: (clock: () => number) => Sessions) => Promise<void>> = {
  "create then load returns the record at version 1": async (backend) => {
    const key = generateKey();
    await backend.create(key, write('{"a":1}', { userId: "42" }));
    const record = await backend.load(key, T0);
    assert.ok(record, "the created record loads");
    assert.equal(record.data, '{"a":1}');
    assert.equal(record.expiresAt, T0 + HOUR);
    assert.equal(record.version, 1);
    assert.equal(record.userId, "42");
    assert.equal(record.createdAt, T0);
    assert.equal(record.updatedAt, T0);
  },
  "load of an unknown key returns null and creates nothing": async (backend) => {
    const key = generateKey();
    assert.equal(await backend.load(key, T0), null);
    assert.equal(await backend.exists(key), false);
  },
  "create of an existing key throws CreateError and keeps the first record": async (backend) => {
    const key = generateKey();
    await backend.create(key, write('{"first":true}'));
    await assert.rejects(backend.create(key, write('{"second":true}')), CreateError);
    assert.equal((await backend.load(key, T0))?.data, '{"first":true}');
  },
  "update replaces the data and increments the version": async (backend) => {
    const key = generateKey();
    await backend.create(key, write('{"n":1}'));
    await backend.update(key, write('{"n":2}', { now: T0 + 1000, expiresAt: T0 + 2 * HOUR, userId: "7" }), 1);
    const record = await backend.load(key, T0 + 1000);
    assert.equal(record?.data, '{"n":2}');
    assert.equal(record?.version, 2);
    assert.equal(record?.expiresAt, T0 + 2 * HOUR);
    assert.equal(record?.userId, "7");
    assert.equal(record?.createdAt, T0);
    assert.equal(record?.updatedAt, T0 + 1000);
  },
  "update of a deleted record throws UpdateError and never resurrects it": async (backend) => {
    const key = generateKey();
    await backend.create(key, write("{}"));
    await backend.delete(key);
    await assert.rejects(backend.update(key, write('{"back":true}'), 1), UpdateError);
    assert.equal(await backend.load(key, T0), null);
    assert.equal(await backend.exists(key), false);
  },
  "update on a stale version throws VersionConflictError and changes nothing": async (backend) => {
    const key = generateKey();
    await backend.create(key, write('{"v":1}'));
    await backend.update(key, write('{"v":2}'), 1);
    await assert.rejects(backend.update(key, write('{"v":"stale"}'), 1), VersionConflictError);
    const record = await backend.load(key, T0);
    assert.equal(record?.data, '{"v":2}');
    assert.equal(record?.version, 2);
  },
  "delete removes the record, and deleting a missing one is fine": async (backend) => {
    const key = generateKey();
    await backend.create(key, write("{}"));
    await backend.delete(key);
    assert.equal(await backend.load(key, T0), null);
    await backend.delete(key);
    await backend.delete(generateKey());
  },
  "a record loads until its expiry and not at or after it": async (backend) => {
    const key = generateKey();
    await backend.create(key, write("{}", { expiresAt: T0 + 1000 }));
    assert.ok(await backend.load(key, T0 + 999));
    assert.equal(await backend.load(key, T0 + 1000), null);
    assert.equal(await backend.load(key, T0 + 5000), null);
  },
  "exists ignores expiry, so an expired key is never reused": async (backend) => {
    const key = generateKey();
    await backend.create(key, write("{}", { expiresAt: T0 + 1000 }));
    assert.equal(await backend.exists(key), true);
    await assert.rejects(backend.create(key, write("{}")), CreateError);
  },
  "clearExpired deletes exactly the expired records and counts them": async (backend) => {
    assert.ok(backend.clearExpired, "clearExpired is implemented");
    const expired = [generateKey(), generateKey(), generateKey()];
    const live = [generateKey(), generateKey()];
    for (const key of expired) await backend.create(key, write("{}", { expiresAt: T0 + 10 }));
    for (const key of live) await backend.create(key, write("{}", { expiresAt: T0 + HOUR }));
    assert.equal(await backend.clearExpired(T0 + 1000), 3);
    for (const key of expired) assert.equal(await backend.exists(key), false);
    for (const key of live) assert.ok(await backend.load(key, T0 + 1000));
    assert.equal(await backend.clearExpired(T0 + 1000), 0);
  },
  "data comes back byte for byte, hostile content included": async (backend) => {
    const key = generateKey();
    const data = `{"__proto__":{"polluted":1},"constructor":"x",${JSON.stringify({ emoji: "Zoë 😀", quote: "'\"\\", nul: "\u0000", big: "x".repeat(100_000) }).slice(1)}`;
    await backend.create(key, write(data));
    assert.equal((await backend.load(key, T0))?.data, data);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  },
  "keys are independent": async (backend) => {
    const [a, b] = [generateKey(), generateKey()];
    await backend.create(a, write('{"who":"a"}'));
    await backend.create(b, write('{"who":"b"}'));
    await backend.delete(a);
    assert.equal(await backend.load(a, T0), null);
    assert.equal((await backend.load(b, T0))?.data, '{"who":"b"}');
  },
  "sessions: a saved session reopens by its key": async (_backend, open) => {
    const sessions = open(() => T0);
    const session = sessions.open();
    await session.set("user", "jane");
    await session.save();
    const again = sessions.open(session.sessionKey ?? undefined);
    assert.equal(await again.get("user"), "jane");
  },
  "sessions: cycleKey keeps the data under a new key and deletes the old record": async (backend, open) => {
    const sessions = open(() => T0);
    const session = sessions.open();
    await session.set("cart", [1, 2]);
    await session.save();
    const oldKey = session.sessionKey as string;
    const reopened = sessions.open(oldKey);
    await reopened.cycleKey();
    await reopened.save();
    assert.notEqual(reopened.sessionKey, oldKey);
    assert.equal(await backend.exists(oldKey), false);
    assert.deepEqual(await sessions.open(reopened.sessionKey as string).get("cart"), [1, 2]);
  },
  "sessions: flush deletes the record": async (backend, open) => {
    const sessions = open(() => T0);
    const session = sessions.open();
    await session.set("x", 1);
    await session.save();
    const key = session.sessionKey as string;
    await sessions.open(key).flush();
    assert.equal(await backend.exists(key), false);
  },
  "sessions: setExpiry(seconds) is enforced by the clock": async (_backend, open) => {
    const clock = manualClock();
    const sessions = open(clock.now);
    const session = sessions.open();
    await session.set("x", 1);
    await session.setExpiry(300);
    await session.save();
    clock.advance(299_000);
    assert.equal(await sessions.open(session.sessionKey as string).get("x"), 1);
    clock.advance(301_000); // the load above did not save, so 600 s have passed since the save
    const late = sessions.open(session.sessionKey as string);
    assert.equal(await late.get("x"), undefined);
    assert.equal(late.sessionKey, null);
  },
  "sessions: an unknown key loads empty and creates no record": async (backend, open) => {
    const sessions = open(() => T0);
    const key = generateKey();
    const session = sessions.open(key);
    assert.deepEqual(await session.keys(), []);
    assert.equal(session.sessionKey, null);
    assert.equal(await backend.exists(key), false);
  },
  "sessions: concurrent saves of different keys all survive": async (_backend, open) => {
    const sessions = open(() => T0);
    const first = sessions.open();
    await first.set("start", true);
    await first.save();
    const key = first.sessionKey as string;
    const writers = Array.from({ length: 10 }, (_, i) => sessions.open(key));
    await Promise.all(writers.map((s) => s.get("start"))); // every writer loads version 1
    await Promise.all(
      writers.map(async (s, i) => {
        await s.set(`k${i}`, i);
        await s.save();
      }),
    );
    const final = await sessions.open(key).load();
    for (let i = 0; i < 10; i++) assert.equal(final[`k${i}`], i, `k${i} survived`);
  },
};

/** The user index tests, for backends that implement listByUser / deleteByUser / deleteById. */
const userIndexTests: Record<string, (backend: ServerBackend, open: (clock: () => number) => Sessions) => Promise<void>> = {
  "user index: setUser binds sessions that listForUser finds, newest activity first": async (backend, open) => {
    const clock = manualClock();
    const sessions = open(clock.now);
    const made: string[] = [];
    for (const agent of ["laptop", "phone"]) {
      const session = sessions.open();
      await session.set("agent", agent);
      await session.setUser(42);
      await session.save();
      made.push(session.sessionKey as string);
      clock.advance(1000);
    }
    const other = sessions.open();
    await other.setUser("7");
    await other.save();
    const listed = await sessions.listForUser("42", { current: sessions.open(made[0]) });
    assert.deepEqual(
      listed.map((s) => s.data["agent"]),
      ["phone", "laptop"],
    );
    assert.deepEqual(
      listed.map((s) => s.current),
      [false, true],
    );
    assert.equal(listed[1]?.createdAt.getTime(), T0);
    assert.ok(
      listed.every((s) => !made.includes(s.id)),
      "ids are not session keys",
    );
    assert.equal(await sessions.open(made[1]).getUser(), "42");
    assert.equal((await backend.listByUser?.("42", clock.now()))?.length, 2);
  },
  "user index: endAllForUser ends every session of the user except the given one": async (backend, open) => {
    const sessions = open(() => T0);
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = sessions.open();
      await session.setUser("u1");
      await session.save();
      keys.push(session.sessionKey as string);
    }
    const bystander = sessions.open();
    await bystander.setUser("u2");
    await bystander.save();
    assert.equal(await sessions.endAllForUser("u1", { except: sessions.open(keys[0]) }), 2);
    assert.equal(await backend.exists(keys[0] as string), true);
    assert.equal(await backend.exists(keys[1] as string), false);
    assert.equal(await backend.exists(bystander.sessionKey as string), true);
    assert.equal(await sessions.endAllForUser("u1"), 1);
    assert.deepEqual(await sessions.listForUser("u1"), []);
  },
  "user index: endSession ends one session by its listed id; expired sessions are not listed": async (backend, open) => {
    const clock = manualClock();
    const sessions = open(clock.now);
    const short = sessions.open();
    await short.setUser("u");
    await short.setExpiry(10);
    await short.save();
    const long = sessions.open();
    await long.setUser("u");
    await long.save();
    clock.advance(11_000);
    const listed = await sessions.listForUser("u");
    assert.equal(listed.length, 1);
    const other = sessions.open();
    await other.setUser("someone-else");
    await other.save();
    assert.equal(await sessions.endSession("someone-else", listed[0]?.id as string), false, "another user's id is refused");
    assert.equal(await backend.exists(long.sessionKey as string), true);
    assert.equal(await sessions.endSession("u", listed[0]?.id as string), true);
    assert.equal(await backend.exists(long.sessionKey as string), false);
  },
};

/** Creates a record for `key` created at `createdAt`, and returns its id. */
async function seed(backend: ServerBackend, key: string, createdAt: number, overrides: Partial<SessionWrite> = {}): Promise<string> {
  await backend.create(key, write(`{"k":${JSON.stringify(key.slice(0, 4))}}`, { now: createdAt, expiresAt: createdAt + HOUR, ...overrides }));
  return hashKey(key);
}

/** Every page of a listing, followed through its cursors. */
async function listAll(backend: ServerBackend, query: Omit<SessionListQuery, "after">): Promise<{ ids: string[]; pages: number }> {
  assert.ok(backend.listSessions, "listSessions is implemented");
  const ids: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const result = await backend.listSessions(after === undefined ? query : { ...query, after });
    pages++;
    assert.ok(result.sessions.length <= query.limit, "a page holds at most limit sessions");
    ids.push(...result.sessions.map((s) => s.id));
    after = result.next;
    assert.ok(pages < 100, "the cursors end");
  } while (after !== undefined);
  return { ids, pages };
}

/** Listing order: createdAt descending, then id descending. */
function newestFirst(entries: readonly { id: string; createdAt: number }[]): string[] {
  return [...entries].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).map((e) => e.id);
}

/** The listing tests, for backends that implement listSessions. */
const listingTests: Record<string, (backend: ServerBackend) => Promise<void>> = {
  "listing: newest first, ties by id, every session once across keyset pages": async (backend) => {
    const made: { id: string; createdAt: number }[] = [];
    // Three share one creation time, so the id must break the tie consistently across pages.
    for (const [i, at] of [T0 + 5, T0 + 1, T0 + 3, T0 + 3, T0 + 3, T0 + 9, T0 + 2].entries()) {
      made.push({ id: await seed(backend, generateKey(), at, { userId: `u${i}` }), createdAt: at });
    }
    const expected = newestFirst(made);
    for (const limit of [1, 2, 3, 7, 50]) {
      const { ids, pages } = await listAll(backend, { limit, state: "all", now: T0 });
      assert.deepEqual(ids, expected, `limit ${limit}`);
      assert.equal(pages, Math.max(1, Math.ceil(made.length / limit)), `limit ${limit}: no empty trailing page`);
    }
    const first = await backend.listSessions?.({ limit: 2, state: "all", now: T0 });
    const top = first?.sessions[0];
    assert.equal(top?.createdAt, T0 + 9);
    assert.equal(top?.updatedAt, T0 + 9);
    assert.equal(top?.expiresAt, T0 + 9 + HOUR);
    assert.equal(top?.userId, "u5");
    assert.equal(top?.version, 1);
    assert.match(top?.data ?? "", /^\{"k":"[a-z0-9]{4}"\}$/);
    assert.equal(typeof first?.next, "string");
  },
  "listing: ids are key hashes, and query.id finds exactly one session": async (backend) => {
    const keys = [generateKey(), generateKey(), generateKey()];
    for (const [i, key] of keys.entries()) await seed(backend, key, T0 + i);
    const all = await backend.listSessions?.({ limit: 10, state: "all", now: T0 });
    assert.deepEqual(new Set(all?.sessions.map((s) => s.id)), new Set(keys.map(hashKey)));
    assert.ok(
      all?.sessions.every((s) => !keys.includes(s.id)),
      "no key appears in a listing",
    );
    const one = await backend.listSessions?.({ limit: 10, state: "all", now: T0, id: hashKey(keys[1] as string) });
    assert.deepEqual(
      one?.sessions.map((s) => s.id),
      [hashKey(keys[1] as string)],
    );
    assert.equal(one?.next, undefined);
    const none = await backend.listSessions?.({ limit: 10, state: "all", now: T0, id: hashKey(generateKey()) });
    assert.deepEqual(none?.sessions, []);
  },
  "listing: the state filter decides expiry by the given now": async (backend) => {
    const live = await seed(backend, generateKey(), T0, { expiresAt: T0 + 2000 });
    const dead = await seed(backend, generateKey(), T0 + 1, { expiresAt: T0 + 1000 });
    const edge = await seed(backend, generateKey(), T0 + 2, { expiresAt: T0 + 1500 }); // expires exactly at now
    const now = T0 + 1500;
    assert.deepEqual((await listAll(backend, { limit: 10, state: "active", now })).ids, [live]);
    assert.deepEqual((await listAll(backend, { limit: 10, state: "expired", now })).ids, [edge, dead]);
    assert.deepEqual((await listAll(backend, { limit: 10, state: "all", now })).ids, [edge, dead, live]);
  },
  "listing: the user filter combines with the state filter and the cursor": async (backend) => {
    const mine: { id: string; createdAt: number }[] = [];
    for (let i = 0; i < 5; i++) {
      mine.push({ id: await seed(backend, generateKey(), T0 + i * 10, { userId: "42" }), createdAt: T0 + i * 10 });
      await seed(backend, generateKey(), T0 + i * 10 + 1, { userId: "7" });
      await seed(backend, generateKey(), T0 + i * 10 + 2);
    }
    const expired = await seed(backend, generateKey(), T0 + 100, { userId: "42", expiresAt: T0 + 100 });
    const { ids } = await listAll(backend, { limit: 2, state: "active", now: T0 + 100, userId: "42" });
    assert.deepEqual(ids, newestFirst(mine));
    assert.deepEqual((await listAll(backend, { limit: 2, state: "expired", now: T0 + 100, userId: "42" })).ids, [expired]);
    assert.deepEqual((await listAll(backend, { limit: 2, state: "all", now: T0, userId: "nobody" })).ids, []);
  },
};

/** The tests for cookie backends (the data lives in the cookie value). */
const cookieTests: Record<string, (backend: CookieBackend, open: (clock: () => number) => Sessions) => Promise<void>> = {
  "encode then decode returns the data and expiry": async (backend) => {
    const value = await backend.encode('{"a":1}', T0 + HOUR, T0, SUITE_SECRETS);
    const opened = await backend.decode(value, T0, SUITE_SECRETS);
    assert.equal(opened?.data, '{"a":1}');
    assert.equal(opened?.expiresAt, T0 + HOUR);
    assert.equal(opened?.stale, false);
  },
  "a value changed in any character does not decode": async (backend) => {
    const value = await backend.encode('{"admin":false}', T0 + HOUR, T0, SUITE_SECRETS);
    for (let i = 0; i < value.length; i++) {
      const flipped = value.slice(0, i) + (value[i] === "A" ? "B" : "A") + value.slice(i + 1);
      if (flipped !== value) assert.equal(await backend.decode(flipped, T0, SUITE_SECRETS), null, `changed at ${i}`);
    }
  },
  "a value does not decode with another secret": async (backend) => {
    const value = await backend.encode("{}", T0 + HOUR, T0, SUITE_SECRETS);
    assert.equal(await backend.decode(value, T0, ["another-secret-of-at-least-32-bytes!!"]), null);
  },
  "a value does not decode at or after its expiry": async (backend) => {
    const value = await backend.encode("{}", T0 + 1000, T0, SUITE_SECRETS);
    assert.ok(await backend.decode(value, T0 + 999, SUITE_SECRETS));
    assert.equal(await backend.decode(value, T0 + 1000, SUITE_SECRETS), null);
  },
  "garbage never throws": async (backend) => {
    for (const junk of ["", "x", "........", "a:b:c", "%%%", "\u0000".repeat(50), "é".repeat(5000)]) {
      assert.equal(await backend.decode(junk, T0, SUITE_SECRETS), null);
    }
  },
  "sessions: a saved session reopens from its cookie value": async (_backend, open) => {
    const sessions = open(() => T0);
    const session = sessions.open();
    await session.set("user", "jane");
    await session.save();
    assert.equal(await sessions.open(session.sessionKey as string).get("user"), "jane");
  },
};

/** Registers the conformance tests for one backend with the given runner. */
export function runBackendSuite(options: BackendSuiteOptions): void {
  const skipped = new Map<string, string>();
  for (const group of options.skip ?? []) for (const test of group.tests) skipped.set(test, group.reason);
  const cleanup = options.cleanup ?? ((backend: SessionBackend) => backend.close?.() ?? Promise.resolve());

  options.describe(`backend conformance: ${options.name}`, () => {
    const kind = options.kind ?? "server";
    const tests = kind === "server" ? { ...serverTests, ...userIndexTests, ...listingTests } : cookieTests;
    {
      for (const [name, body] of Object.entries(tests)) {
        const title = `${kind}: ${name}`;
        const noIndex = name in userIndexTests && !options.userIndex ? "the backend keeps no user index (userIndex: false)" : undefined;
        const noListing = name in listingTests && !options.listing ? "the backend cannot list sessions (listing: false)" : undefined;
        const reason = skipped.get(name) ?? skipped.get(title) ?? noIndex ?? noListing;
        if (reason !== undefined) {
          options.it.skip?.(`${title} (skipped: ${reason})`, async () => {});
          continue;
        }
        options.it(title, async () => {
          const backend = await options.create();
          try {
            assert.equal(backend.kind, kind, `the backend's kind is "${kind}"`);
            const open = (clock: () => number) => createSessions({ backend, clock, secret: SUITE_SECRETS, logger: { warn() {}, error() {} } });
            await (body as (b: SessionBackend, o: typeof open) => Promise<void>)(backend, open);
          } finally {
            await cleanup(backend);
          }
        });
      }
    }
  });
}
