import { redirect } from "react-router";
import { checkedForm, commitSession, sessionOf } from "../sessions.server.js";

export async function action({ request }: { request: Request }) {
  const { session, tessera } = await sessionOf(request);
  const form = await checkedForm(request, tessera);
  if (form instanceof Response) return form;
  session.set("cart", [...(session.get("cart") ?? []), form.get("item") || "?"]);
  return redirect("/", { status: 303, headers: { "Set-Cookie": await commitSession(session) } });
}
