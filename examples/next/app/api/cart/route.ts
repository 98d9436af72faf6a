// The cart as JSON: GET reads the session, POST { item } adds to it.
import { jsonBody } from "../../../lib/api";
import { route, text } from "../../../lib/session";

export const GET = route(async (_request, session) =>
  Response.json({ username: (await session.get("username")) ?? null, cart: (await session.get("cart")) ?? [] }),
);

export const POST = route(async (request, session) => {
  const body = await jsonBody(request);
  if (body instanceof Response) return body;
  const item = text(body["item"], 60);
  if (item === undefined) return Response.json({ error: "item is required" }, { status: 400 });
  const cart = [...((await session.get("cart")) ?? []), item];
  await session.set("cart", cart);
  return Response.json({ cart });
});
