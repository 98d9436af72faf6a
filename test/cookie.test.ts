/**
 * The session Set-Cookie is assembled from parts serialized once per options (for speed): it must
 * be exactly the string the `cookie` package's `serialize` builds from the same attributes,
 * for every combination of options, values, ages and clocks.
 */
import { serialize } from "cookie";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionCookie } from "../src/cookie.js";

const SECRET = "cookie-test-secret-0123456789abcdef-0123456789";

describe("sessionCookie", () => {
  it("is byte for byte what cookie.serialize builds", () => {
    const options = fc.record({
      name: fc.constantFrom("sessionid", "sid", "__Secure-sid"),
      domain: fc.option(fc.constantFrom(".example.com", "example.org", "a.b.c"), { nil: undefined }),
      path: fc.constantFrom("/", "/app", "/a/b/"),
      httpOnly: fc.boolean(),
      sameSite: fc.constantFrom<"lax" | "strict" | false>("lax", "strict", false),
    });
    fc.assert(
      fc.property(
        options,
        fc.stringMatching(/^[a-z0-9]{8,40}$/),
        fc.option(fc.integer({ min: -10, max: 10 ** 9 }), { nil: undefined }),
        fc.integer({ min: 0, max: 4e12 }),
        (cookie, value, maxAge, now) => {
          const { domain, ...rest } = cookie;
          const { options: resolved } = createSessions({
            backend: memoryBackend(),
            secret: SECRET,
            clock: () => now,
            cookie: domain === undefined ? rest : { ...rest, domain },
          });
          const expected = serialize(cookie.name, value, {
            encode: (v) => v,
            ...(maxAge === undefined ? {} : { maxAge, expires: new Date(now + maxAge * 1000) }),
            ...(cookie.domain === undefined ? {} : { domain: cookie.domain }),
            path: cookie.path,
            secure: true,
            httpOnly: cookie.httpOnly,
            ...(cookie.sameSite === false ? {} : { sameSite: cookie.sameSite }),
          });
          expect(sessionCookie(resolved, value, maxAge)).toBe(expected);
          // A second call (the cached parts, the cached date) gives the same string.
          expect(sessionCookie(resolved, value, maxAge)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("follows the clock from one second to the next", () => {
    let now = Date.UTC(2026, 10, 26, 9, 0, 0, 999);
    const { options } = createSessions({ backend: memoryBackend(), secret: SECRET, clock: () => now });
    expect(sessionCookie(options, "abcdefgh12345678", 60)).toContain("; Expires=Thu, 26 Nov 2026 09:01:00 GMT;");
    now += 1;
    expect(sessionCookie(options, "abcdefgh12345678", 60)).toContain("; Expires=Thu, 26 Nov 2026 09:01:01 GMT;");
  });
});
