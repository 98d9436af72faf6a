// POST: ends the session (the record and the cookie go).
import { jsonBody } from "../../../lib/api";
import { route } from "../../../lib/session";

export const POST = route(async (request, session) => {
  const body = await jsonBody(request);
  if (body instanceof Response) return body;
  await session.flush();
  return Response.json({ username: null, cart: [] });
});
