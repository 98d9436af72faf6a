/**
 * The edge test app: cookie sessions (encrypted) through the Fetch adapter, and nothing else, so
 * it runs where only Web APIs exist. Served by workerd, Deno and Bun in runtimes.test.ts.
 *   POST /login {user}  -> cycleKey, set user      GET /me -> { user, cart, crypto }
 *   POST /cart {item}   -> append to the cart      POST /logout -> flush
 *   GET /default-backend -> what createSessions() without a backend says on this runtime
 *   GET /csrf -> { token } and the CSRF cookie    POST /csrf (X-CSRF-Token) -> 200, or 403 for a bad token
 */
import { createSessions } from "tessera-sessions";
import { createCsrf } from "tessera-sessions/csrf";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { withSession } from "tessera-sessions/fetch";
import { portableCrypto } from "../../src/crypto.js";

const warnings: string[] = [];
const sessions = createSessions<{ user?: string; cart?: string[] }>({
  backend: signedCookieBackend({ encrypt: true }),
  secret: "edge-test-secret-0123456789abcdef0123456789",
  cookie: { secure: false },
  logger: { warn: (message: string) => warnings.push(message), error: (message: string) => warnings.push(message) },
});

const csrf = createCsrf(sessions);

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  return withSession(sessions, request, async (session) => {
    if (request.method === "POST" && url.pathname === "/login") {
      const { user } = (await request.json()) as { user: string };
      await session.cycleKey();
      await session.set("user", user);
      return Response.json({ ok: true });
    }
    if (request.method === "POST" && url.pathname === "/cart") {
      const { item } = (await request.json()) as { item: string };
      await session.set("cart", [...((await session.get("cart")) ?? []), item]);
      return Response.json({ ok: true });
    }
    if (request.method === "POST" && url.pathname === "/logout") {
      await session.flush();
      return Response.json({ ok: true });
    }
    if (request.method === "GET" && url.pathname === "/me") {
      return Response.json({
        user: (await session.get("user")) ?? null,
        cart: (await session.get("cart")) ?? [],
        crypto: portableCrypto.name,
        warnings: warnings.length,
      });
    }
    if (request.method === "GET" && url.pathname === "/csrf") {
      const { token, setCookie } = await csrf.issue(request.headers.get("cookie"), session);
      const response = Response.json({ token });
      if (setCookie !== undefined) response.headers.append("Set-Cookie", setCookie);
      return response;
    }
    if (request.method === "POST" && url.pathname === "/csrf") {
      const ok = await csrf.verify(request.headers.get("cookie"), request.headers.get(csrf.headerName), session);
      return ok ? Response.json({ ok: true }) : new Response("Forbidden", { status: 403 });
    }
    if (request.method === "GET" && url.pathname === "/default-backend") {
      // createSessions without a backend: the default SQLite file needs a writable file system.
      try {
        createSessions({ secret: "edge-test-secret-0123456789abcdef0123456789" });
        return Response.json({ created: true });
      } catch (error) {
        return Response.json({ created: false, name: (error as Error).name, message: (error as Error).message });
      }
    }
    return new Response("Not Found", { status: 404 });
  });
}

export default { fetch: handle };
