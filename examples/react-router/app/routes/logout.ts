import { redirect } from "react-router";
import { checkedForm, destroySession, sessionOf } from "../sessions.server.js";

export async function action({ request }: { request: Request }) {
  const { session, tessera } = await sessionOf(request);
  const form = await checkedForm(request, tessera);
  if (form instanceof Response) return form;
  return redirect("/", { status: 303, headers: { "Set-Cookie": await destroySession(session) } }); // deletes the record and the cookie
}
