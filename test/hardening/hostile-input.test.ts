/**
 * Hostile input: a corpus of bad Cookie headers and a fast-check property over arbitrary ones,
 * through a real node:http server running tessera-sessions/node (raw socket bytes, so nothing is cleaned
 * up by an HTTP client first) and through `sessions.openFromHeader` directly. Each gives an
 * empty session or a clear 4xx: never a 500, never a thrown error, never a record for the key
 * presented, never an effect on another session, and a logged warning for a malformed session
 * cookie. Then arbitrary values through `set()`: stored and read back exactly, or refused at once.
 */
import { createServer, type Server } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, InvalidValueError, isValidKey, readCookie, type ServerBackend, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { MAX_INFLATED_BYTES } from "../../src/backends/django-cookies.js";
import { signPayload, SIGNED_COOKIES_SALT } from "tessera-sessions/django";
import { withSession } from "tessera-sessions/node";
import { recordingLogger } from "../helpers.js";
import { get, listen, rawRequest, type Listening } from "./http.js";

const VICTIM_DATA = '{"user":"victim","role":"admin"}';

/** What the corpus and the property expect of one Cookie header. */
function expectation(header: string | readonly string[] | undefined) {
  const value = readCookie(header, "sessionid");
  return {
    value,
    // Django's rule: under 8 characters is silently no key; 8 or more outside the key alphabet is
    // refused with a security warning.
    warns: value !== undefined && value.length >= 8 && !isValidKey(value),
  };
}

/** A memory store holding one victim session, recording every key a record was created under. */
function victimStore() {
  const inner = memoryBackend();
  const created: string[] = [];
  const backend: ServerBackend = {
    ...inner,
    create: async (key, write) => {
      created.push(key);
      return inner.create(key, write);
    },
  };
  return { backend, created };
}

let server: Listening;
let victimKey: string;
let store: ReturnType<typeof victimStore>;
const logger = recordingLogger();

/** Every request reads its session; `/write` also writes, so a new session may be created. */
function app(sessions: Sessions) {
  return withSession(sessions, async (req, res) => {
    const data = await req.session.load();
    if (req.url === "/write") await req.session.set("visited", true);
    const body = JSON.stringify({ data, key: req.session.sessionKey });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
}

beforeAll(async () => {
  store = victimStore();
  const sessions = createSessions({ backend: store.backend, cookie: { secure: false }, logger });
  const victim = sessions.open();
  await victim.update({ user: "victim", role: "admin" });
  await victim.save();
  victimKey = victim.sessionKey as string;
  store.created.length = 0;
  // A generous header limit, so the corpus reaches Tessera's parsing rather than Node's 431.
  const http: Server = createServer({ maxHeaderSize: 4 * 1024 * 1024 }, app(sessions));
  server = await listen(http);
});

afterAll(async () => {
  await server.close();
});

/** Sends raw request bytes with these Cookie header lines (latin1 or UTF-8 bytes as given). */
async function send(cookieLines: readonly (string | Buffer)[], path = "/") {
  const head = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, "latin1");
  const lines = cookieLines.map((line) =>
    Buffer.concat([Buffer.from("Cookie: ", "latin1"), typeof line === "string" ? Buffer.from(line, "utf8") : line, Buffer.from("\r\n", "latin1")]),
  );
  return rawRequest(server.port, Buffer.concat([head, ...lines, Buffer.from("\r\n", "latin1")]));
}

/** The invariants every hostile request must keep. */
async function checkOutcome(reply: { status: number; text: string }, presented: string | undefined) {
  // A clear 4xx from Node's parser (bad bytes, oversize) or our 200: never a 5xx, never silence.
  expect(reply.status === 200 || (reply.status >= 400 && reply.status < 500), `status ${reply.status}`).toBe(true);
  if (reply.status === 200) {
    const body = JSON.parse(reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4)) as { data: Record<string, unknown>; key: string | null };
    expect(body.data).toEqual({}); // what the handler loaded, before `/write` added to it
    expect(body.key === null || body.key !== presented).toBe(true);
  }
  // Never a record under the presented value, and the victim untouched.
  if (presented !== undefined) expect(store.created).not.toContain(presented);
  if (presented !== undefined && presented !== victimKey && isValidKey(presented)) expect(await store.backend.exists(presented)).toBe(false);
  const victim = await store.backend.load(victimKey, Date.now());
  expect(victim?.data).toBe(VICTIM_DATA);
  expect(victim?.version).toBe(1);
}

/** node:http reads header bytes as latin1: a UTF-8 "é" arrives as two characters. */
function asNodeSeesIt(line: string | Buffer): string {
  return (typeof line === "string" ? Buffer.from(line, "utf8") : line).toString("latin1");
}

const UNKNOWN = "abcdefghijklmnop0123456789qrstuv";

/** [label, Cookie header lines]. */
const CORPUS: [string, (string | Buffer)[]][] = [
  ["a 100 kB session cookie", [`sessionid=${"a".repeat(100_000)}`]],
  ["a 1 MB header of other cookies", [`${"x".repeat(1_000_000)}=1; sessionid=${UNKNOWN}`]],
  ["10 000 cookies before the session cookie", [`${Array.from({ length: 10_000 }, (_, i) => `c${i}=${i}`).join("; ")}; sessionid=${UNKNOWN}`]],
  ["10 000 session cookies", [Array.from({ length: 10_000 }, (_, i) => `sessionid=${String(i).padStart(8, "k")}`).join("; ")]],
  ["a NUL byte inside the key", [Buffer.from(`sessionid=abcdefgh\u0000ijklmnop`, "latin1")]],
  ["control characters", [Buffer.from(`sessionid=\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008abcdefgh`, "latin1")]],
  ["DEL and a tab", [Buffer.from(`sessionid=abcd\u007fefgh\tijkl`, "latin1")]],
  ["raw latin1 high bytes", [Buffer.from([...Buffer.from("sessionid="), 0xff, 0xfe, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86])]],
  ["a truncated percent escape", ["sessionid=abcdefgh%"]],
  ["an invalid percent escape", ["sessionid=%ZZ%GGabcdefgh"]],
  ["a percent-encoded lone surrogate", ["sessionid=%ED%A0%80abcdefgh"]],
  ["an overlong UTF-8 encoding of '/'", ["sessionid=%C0%AF%C0%AFetc%C0%AFpasswd"]],
  ["percent-encoding that decodes to a valid key", [`sessionid=${[...UNKNOWN].map((c) => `%${c.charCodeAt(0).toString(16)}`).join("")}`]],
  ["percent-encoded separators", ["sessionid=abcdefgh%3B%20sessionid%3D12345678"]],
  ["two session cookies (the first one counts)", [`sessionid=${UNKNOWN}; sessionid=zzzzzzzzzzzzzzzz`]],
  ["two Cookie header lines", [`sessionid=${UNKNOWN}`, `sessionid=zzzzzzzzzzzzzzzz`]],
  ["a quoted key", [`sessionid="${UNKNOWN}"`]],
  ["an unbalanced quote", [`sessionid="${UNKNOWN}`]],
  ["quotes only", ['sessionid=""""""""""']],
  ["unicode", ["sessionid=ключсессии🔑🔑🔑"]],
  ["a right-to-left override", ["sessionid=\u202eabcdefgh12345678"]],
  ["../ paths", ["sessionid=../../../../etc/passwd"]],
  ["an encoded ../ path", ["sessionid=..%2F..%2F..%2Fetc%2Fpasswd"]],
  ["__proto__ and constructor cookies", ["__proto__=x; constructor=y; toString=z; hasOwnProperty=1; sessionid=__proto__"]],
  ["a session cookie named like a prototype key", ["sessionid=constructor"]],
  ["a key one character too long", [`sessionid=${"a".repeat(41)}`]],
  ["a key with a space inside", ["sessionid=abcdefgh 12345678"]],
  ["a key with a trailing space", [`sessionid=${UNKNOWN} `]],
  ["a name without a value", ["sessionid"]],
  ["an empty value", ["sessionid="]],
  ["separators only", [";;;; ; ;=;=="]],
  ["a comma-separated list", [`a=1, sessionid=${UNKNOWN}, b=2`]],
  ["an empty Cookie header", [""]],
  ["JSON as the value", ['sessionid={"__proto__":{"admin":true}}']],
  ["a signed-cookie-looking value", ["sessionid=v1.eyJ1c2VyIjoiYWRtaW4ifQ.c2lnbmF0dXJl"]],
  ["a Django signed value", ["sessionid=.eJyrVkrOz0nNVbJSKi1OLVKqBQAzUwXV:1rBCDE:abcdefghijklmnopqrstuvwx"]],
];

describe("a corpus of hostile Cookie headers through node:http and tessera-sessions/node", () => {
  it.each(CORPUS)("%s", async (_label, lines) => {
    const header = lines.map(asNodeSeesIt);
    for (const path of ["/", "/write"]) {
      const before = logger.warnings.length;
      const reply = await send(lines, path);
      await checkOutcome(reply, expectation(header).value);
      // Node may refuse the bytes itself (400); when Tessera saw them, a malformed value warns once.
      if (reply.status === 200) expect(logger.warnings.length - before).toBe(expectation(header).warns ? 1 : 0);
    }
  });

  it("the victim's own key upper-cased, truncated or padded never reaches the victim's session", async () => {
    for (const variant of [
      victimKey.toUpperCase(),
      victimKey.slice(0, -1),
      `${victimKey}0`,
      victimKey.slice(0, 16),
      `${victimKey}\u0000`,
      `${victimKey}\t${victimKey}`,
      `${victimKey}%00`,
    ]) {
      const reply = await send([`sessionid=${variant}`], "/write");
      await checkOutcome(reply, variant);
    }
  });

  it("the victim's exact key still works, untouched by everything above", async () => {
    const reply = await send([`sessionid=${victimKey}`]);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4))).toEqual({ data: { user: "victim", role: "admin" }, key: victimKey });
  });

  it("with Node's default header limit, an oversize header is a 431, never a 500", async () => {
    const sessions = createSessions({ backend: memoryBackend(), cookie: { secure: false }, logger });
    const small = await listen(createServer(app(sessions)));
    try {
      const head = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: sessionid=${"a".repeat(100_000)}\r\n\r\n`;
      expect((await rawRequest(small.port, head)).status).toBe(431);
    } finally {
      await small.close();
    }
  });
});

describe("validly signed Django-format cookies that are hostile inside, through node:http", () => {
  const SECRET = "django-insecure-hostile-input-secret-0123456789";
  const sign = (json: string) => signPayload(json, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true });
  let django: Listening;
  const djangoLogger = recordingLogger();
  beforeAll(async () => {
    const sessions = createSessions({ backend: signedCookieBackend({ format: "django" }), secret: SECRET, cookie: { secure: false }, logger: djangoLogger });
    django = await listen(createServer(app(sessions)));
  });
  afterAll(async () => {
    await django.close();
  });

  /** The reply to one request with this cookie value, and the warnings it logged. */
  async function ask(value: string) {
    const before = djangoLogger.warnings.length;
    const reply = await get(django.url, "/", { Cookie: `sessionid=${value}` });
    return { reply, warnings: djangoLogger.warnings.slice(before) };
  }

  it.each([
    ["nested 3000 deep (once a stack overflow and a 500 on every request)", `{"a":${"[".repeat(3000)}${"]".repeat(3000)}}`],
    ["nested 1001 deep, one past MAX_JSON_DEPTH", `${'{"a":'.repeat(1000)}{}${"}".repeat(1000)}`],
    ["2 MB of JSON in a small compressed cookie", JSON.stringify({ a: "x".repeat(2_000_000) })],
  ])("%s: an empty session and a warning, never a 500", async (_label, json) => {
    const value = sign(json);
    expect(value.length).toBeLessThan(4096); // a cookie a browser would keep
    const { reply, warnings } = await ask(value);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ data: {}, key: value });
    expect(warnings).toEqual(["[tessera] Session data corrupted: a session cookie failed verification; the request gets an empty session."]);
  });

  it("nesting at the limit and JSON within the inflation bound still load", async () => {
    const deep = `${'{"a":'.repeat(999)}{}${"}".repeat(999)}`;
    const { reply, warnings } = await ask(sign(deep));
    expect(reply.status).toBe(200);
    expect(JSON.stringify((JSON.parse(reply.body) as { data: unknown }).data)).toBe(deep);
    expect(warnings).toEqual([]);
    const large = JSON.stringify({ a: "x".repeat(MAX_INFLATED_BYTES - 8) }); // exactly MAX_INFLATED_BYTES
    expect(large.length).toBe(MAX_INFLATED_BYTES);
    const loaded = await ask(sign(large));
    expect(JSON.parse(loaded.reply.body)).toEqual({ data: JSON.parse(large), key: sign(large) });
    expect((await ask(sign(JSON.stringify({ a: "x".repeat(MAX_INFLATED_BYTES - 7) })))).warnings).toHaveLength(1);
  });
});

/** Cookie-ish text: names and values built from the characters that cause trouble. */
const nasty = fc.constantFrom(";", "=", ",", " ", "\t", '"', "%", "\\", "\u0000", "\u0001", "\u007f", "é", "🔑", "\u202e", "/", ".", "_");
const piece = fc.oneof(
  fc.string({ unit: fc.oneof(nasty, fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789ABCZ")), maxLength: 48 }),
  fc.string({ unit: "binary", maxLength: 48 }),
  fc.stringMatching(/^[a-z0-9]{8,40}$/),
  fc.stringMatching(/^(%[0-9A-Fa-fGgZz]{0,2}){1,12}$/),
  fc.constantFrom("__proto__", "constructor", "prototype", "sessionid", "", '""', "%", "../.."),
);
const cookiePair = fc
  .tuple(fc.oneof(fc.constant("sessionid"), piece), fc.boolean(), piece)
  .map(([name, eq, value]) => (eq ? `${name}=${value}` : `${name}${value}`));
const cookieHeader = fc.oneof(
  fc.array(cookiePair, { maxLength: 12 }).chain((pairs) => fc.constantFrom("; ", ";", ", ", " ;").map((sep) => pairs.join(sep))),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 300 }),
);

describe("property: arbitrary Cookie headers", () => {
  it("through sessions.openFromHeader: no throw, an empty session, no record, a warning exactly when malformed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(cookieHeader, fc.array(cookieHeader, { maxLength: 3 })), async (header) => {
        const { backend, created } = victimStore();
        const local = recordingLogger();
        const sessions = createSessions({ backend, logger: local });
        const session = sessions.openFromHeader(header);
        const { value, warns } = expectation(header);
        expect(session.hadCookie).toBe(value !== undefined);
        expect(await session.keys()).toEqual([]);
        expect(local.warnings).toHaveLength(warns ? 1 : 0);
        const result = await sessions.commit(session, 200);
        expect(result.setCookie === undefined || result.setCookie.startsWith("sessionid=; Max-Age=0;")).toBe(true);
        expect(created).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it("through a real node:http server: never a 5xx, never a record for the presented value, the victim untouched", async () => {
    await fc.assert(
      fc.asyncProperty(cookieHeader, fc.constantFrom("/", "/write"), async (header, path) => {
        // CR and LF would end the header line: that is HTTP framing, not a cookie.
        const line = header.replace(/[\r\n]/g, " ");
        const before = logger.warnings.length;
        const reply = await send([line], path);
        const { value, warns } = expectation(asNodeSeesIt(line));
        await checkOutcome(reply, value);
        if (reply.status === 200) expect(logger.warnings.length - before).toBe(warns ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe("property: arbitrary values through set()", () => {
  const sessions = createSessions({ backend: memoryBackend(), logger: recordingLogger() });

  it("either stored and read back exactly after a save, or refused at once with InvalidValueError", async () => {
    const value = fc.anything({
      maxDepth: 4,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true,
      key: fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "toString", "_session_expiry")),
    });
    // Doubles too (NaN, ±Infinity, -0), alone and nested.
    const values = fc.oneof(value, fc.double(), fc.array(fc.double(), { maxLength: 4 }), fc.dictionary(fc.string(), fc.double(), { maxKeys: 4 }));
    await fc.assert(
      fc.asyncProperty(fc.string(), values, async (key, item) => {
        const session = sessions.open();
        let refused: unknown;
        try {
          await session.set(key, item);
        } catch (error) {
          refused = error;
        }
        if (refused !== undefined) {
          expect(refused).toBeInstanceOf(InvalidValueError);
          expect(session.modified).toBe(false);
          expect(await session.has(key)).toBe(false);
          return;
        }
        await session.save();
        const reloaded = sessions.open(session.sessionKey as string);
        // Exactly: the same JSON text, and deep equality (toEqual tells -0 from 0). The one
        // change JSON makes is -0 to 0 (equal under ===; refusing it would break Math.round(-0.4)).
        expect(JSON.stringify(await reloaded.get(key))).toBe(JSON.stringify(item));
        expect(await reloaded.get(key)).toEqual(withoutNegativeZero(item));
        expect(({} as Record<string, unknown>)["admin"]).toBeUndefined();
      }),
      { numRuns: 1500 },
    );
  });

  it("-0 is stored as 0, the one value JSON changes", async () => {
    const session = sessions.open();
    await session.set("n", -0);
    await session.save();
    expect(Object.is(await sessions.open(session.sessionKey as string).get("n"), 0)).toBe(true);
  });

  it("a sparse array is refused, since its holes would come back as null", async () => {
    await expect(sessions.open().set("s", [1, , 3])).rejects.toThrow(
      "[tessera] s[1] is a hole in a sparse array, which JSON stores as null. Fill it (e.g. with null) first.",
    );
  });

  it("deep nesting and huge strings are stored intact", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 1000; i++) deep = { d: deep };
    const huge = "x".repeat(5_000_000);
    const session = sessions.open();
    await session.set("deep", deep as never);
    await session.set("huge", huge);
    await session.save();
    const again = sessions.open(session.sessionKey as string);
    expect(await again.get("deep")).toEqual(deep);
    expect(((await again.get("huge")) as string).length).toBe(5_000_000);
  });
});

/** `value` with every -0 turned into 0, as JSON stores it. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(copy, k, { value: withoutNegativeZero(v), enumerable: true, writable: true, configurable: true });
    return copy;
  }
  return value;
}
