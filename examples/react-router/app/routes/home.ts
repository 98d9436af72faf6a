import { shopPage } from "../../../shared/shop.js";
import { csrf, destroySession, sessionOf } from "../sessions.server.js";

/** The shop page (a resource route: the shared page, byte for byte as the other shops send it). */
export async function loader({ request }: { request: Request }) {
  const { session, tessera } = await sessionOf(request);
  const { token, setCookie } = await csrf.issue(request.headers.get("Cookie"), tessera);
  const headers = new Headers({ "Content-Type": "text/html; charset=utf-8" });
  if (setCookie) headers.append("Set-Cookie", setCookie);
  // A cookie that names no session (expired, logged out elsewhere, tampered): tell the browser to drop it.
  if (tessera.hadCookie && session.id === "") headers.append("Set-Cookie", await destroySession(session));
  return new Response(shopPage(session.get("username"), session.get("cart") ?? [], token), { headers });
}
