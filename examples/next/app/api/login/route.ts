// POST { username }: signs in under a new session key, keeping the cart.
import { jsonBody } from "../../../lib/api";
import { route, text } from "../../../lib/session";

export const POST = route(async (request, session) => {
  const body = await jsonBody(request);
  if (body instanceof Response) return body;
  const username = text(body["username"], 40);
  if (username === undefined) return Response.json({ error: "username is required" }, { status: 400 });
  await session.cycleKey(); // a new key at login, so a key planted before it is worthless
  await session.set("username", username);
  return Response.json({ username });
});
