/**
 * The Next.js adapter's own pieces, beside the built example's tests (test/examples/next.test.ts,
 * which drive Server Components, Server Actions, route handlers and proxy.ts in `next start`):
 * the cookie handed to Next's `cookies().set` says what the commit decided, through Next's own
 * serializer; Next's real `redirect()`/`notFound()` are recognised; and the read-only session of
 * Server Components refuses every write with a message saying where to write instead.
 */
import fc from "fast-check";
import { ResponseCookies } from "next/dist/server/web/spec-extension/cookies.js";
import { notFound, redirect, RedirectType } from "next/navigation.js";
import { describe, expect, it } from "vitest";
import { createSessions, ReadOnlySessionError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { nextControlFlowStatus, readOnlyView } from "../../src/adapters/next.js";
import { deletionCookie, sessionCookie, setCookieFields } from "../../src/cookie.js";

const SECRET = "next-test-secret-0123456789abcdef-0123456789";

/** A Set-Cookie header as comparable parts: the pair exactly, attribute names case-folded, SameSite's value too; Expires apart, as a time. */
function normalized(header: string) {
  const [pair, ...attributes] = header.split("; ");
  let expires: number | undefined;
  const parts: string[] = [];
  for (const attribute of attributes) {
    const [name = "", value] = attribute.split("=", 2);
    const key = name.toLowerCase();
    if (key === "expires") expires = Date.parse(value ?? "");
    else parts.push(value === undefined ? key : `${key}=${key === "samesite" ? value.toLowerCase() : value}`);
  }
  return { pair, attributes: parts.sort(), expires };
}

/** What Next sends for the fields `cookies().set` is given. */
function throughNext(fields: ReturnType<typeof setCookieFields>): string {
  const headers = new Headers();
  new ResponseCookies(headers).set(fields);
  const sent = headers.getSetCookie();
  expect(sent).toHaveLength(1);
  return sent[0] as string;
}

describe("setCookieFields, then Next's cookies().set", () => {
  it("sends the session cookie the commit built, attribute for attribute", () => {
    const options = fc.record({
      domain: fc.option(fc.constantFrom(".example.com", "shop.example.org"), { nil: undefined }),
      path: fc.constantFrom("/", "/shop"),
      httpOnly: fc.boolean(),
      secure: fc.boolean(),
      sameSite: fc.constantFrom<"lax" | "strict" | "none" | false>("lax", "strict", "none", false),
    });
    fc.assert(
      fc.property(
        options,
        fc.stringMatching(/^[a-z0-9]{32}$/),
        fc.option(fc.integer({ min: 0, max: 10 ** 8 }), { nil: undefined }),
        fc.integer({ min: 0, max: 4e12 }),
        (cookie, key, maxAge, now) => {
          const { domain, ...rest } = cookie;
          if (rest.sameSite === "none") rest.secure = true; // a configuration error otherwise
          const { options: resolved } = createSessions({
            backend: memoryBackend(),
            secret: SECRET,
            clock: () => now,
            cookie: domain === undefined ? rest : { ...rest, domain },
          });
          for (const ours of [sessionCookie(resolved, key, maxAge), deletionCookie(resolved)]) {
            const expected = normalized(ours);
            const sent = normalized(throughNext(setCookieFields(ours)));
            expect({ ...sent, expires: undefined }).toEqual({ ...expected, expires: undefined });
            const age = setCookieFields(ours).maxAge;
            // Next recomputes Expires from a non-zero Max-Age with its own clock (Date.now), not the sessions' `clock`.
            if (age) expect(Math.abs((sent.expires ?? 0) - (Date.now() + age * 1000))).toBeLessThanOrEqual(2000);
            else expect(sent.expires).toBe(expected.expires);
          }
        },
      ),
    );
  });

  it("reads the fields of the default cookie exactly", () => {
    const { options } = createSessions({ backend: memoryBackend(), clock: () => 1_700_000_000_000 });
    expect(setCookieFields(sessionCookie(options, "k".repeat(32), 1209600))).toEqual({
      name: "sessionid",
      value: "k".repeat(32),
      maxAge: 1209600,
      expires: new Date("Tue, 28 Nov 2023 22:13:20 GMT"),
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "lax",
    });
    expect(setCookieFields(deletionCookie(options))).toEqual({
      name: "sessionid",
      value: "",
      maxAge: 0,
      expires: new Date(0),
      path: "/",
      secure: false,
      httpOnly: false,
      sameSite: "lax",
    });
  });
});

describe("Next's control-flow exceptions", () => {
  const thrown = (fn: () => never): unknown => {
    try {
      fn();
    } catch (error) {
      return error;
    }
    throw new Error("did not throw");
  };

  it("redirect() and notFound() commit with their status; any other exception does not", () => {
    expect(nextControlFlowStatus(thrown(() => redirect("/cart")))).toBe(307);
    expect(nextControlFlowStatus(thrown(() => redirect("/cart", RedirectType.push)))).toBe(307);
    expect(nextControlFlowStatus(thrown(() => notFound()))).toBe(404);
    expect(nextControlFlowStatus(new Error("boom"))).toBeUndefined();
    expect(nextControlFlowStatus(Object.assign(new Error("odd"), { digest: "SOMETHING_ELSE;1" }))).toBeUndefined();
    expect(nextControlFlowStatus(null)).toBeUndefined();
  });
});

describe("the read-only session of Server Components", () => {
  it("reads the stored data, and refuses every write with a ReadOnlySessionError saying where to write", async () => {
    const sessions = createSessions<{ name?: string }>({ backend: memoryBackend() });
    const writable = sessions.open();
    await writable.set("name", "ann");
    await writable.save();
    const session = readOnlyView(sessions.open(writable.sessionKey));

    expect(await session.get("name")).toBe("ann");
    expect(await session.keys()).toEqual(["name"]);
    expect(session.sessionKey).toBe(writable.sessionKey);
    const writes: [string, () => Promise<unknown>][] = [
      ["set", () => session.set("name", "bob")],
      ["delete", () => session.delete("name")],
      ["pop", () => session.pop("name")],
      ["setDefault", () => session.setDefault("name", "x")],
      ["update", () => session.update({ name: "x" })],
      ["clear", () => session.clear()],
      ["flush", () => session.flush()],
      ["cycleKey", () => session.cycleKey()],
      ["setExpiry", () => session.setExpiry(60)],
      ["save", () => session.save()],
      ["create", () => session.create()],
      ["setUser", () => session.setUser("u1")],
      ["setTestCookie", () => session.setTestCookie()],
      ["deleteTestCookie", () => session.deleteTestCookie()],
      ["flash", () => session.flash("Saved.")],
      ["flashes", () => session.flashes()], // reading them removes them, which could not be saved here
    ];
    for (const [method, write] of writes) {
      const error = await write().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, method).toBeInstanceOf(ReadOnlySessionError);
      expect((error as Error).message).toBe(
        `[tessera] session.${method}() was called where the session is read-only (getSession(), e.g. in a Server Component, where Next.js cannot set cookies). ` +
          "Change the session in a Server Action or a route handler, inside withSession(async (session) => ...).",
      );
    }
    // session.data reads after load(); property writes, on it or plain on the session, are refused too.
    await session.load();
    expect(session.data.name).toBe("ann");
    const suffix =
      " where the session is read-only (getSession(), e.g. in a Server Component, where Next.js cannot set cookies). Change the session in a Server Action or a route handler, inside withSession(async (session) => ...).";
    expect(() => (session.data.name = "bob")).toThrow(`[tessera] session.data.name was set${suffix}`);
    expect(() => delete session.data.name).toThrow(`[tessera] session.data.name was deleted${suffix}`);
    expect(() => ((session as unknown as Record<string, unknown>)["name"] = "bob")).toThrow(ReadOnlySessionError);
    expect(session.modified).toBe(false);
    expect(await sessions.open(writable.sessionKey).get("name")).toBe("ann");
  });
});
