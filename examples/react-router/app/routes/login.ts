import { redirect } from "react-router";
import { checkedForm, commitSession, sessionOf } from "../sessions.server.js";

export async function action({ request }: { request: Request }) {
  const { session, tessera } = await sessionOf(request);
  const form = await checkedForm(request, tessera);
  if (form instanceof Response) return form;
  const username = form.get("username") || "guest";
  await tessera.cycleKey(); // a new key at login, so a key planted before it is worthless
  await tessera.setUser(username); // also retires the CSRF tokens shown before the login
  session.set("username", username);
  return redirect("/", { status: 303, headers: { "Set-Cookie": await commitSession(session) } });
}
