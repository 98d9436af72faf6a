"use server";
// The forms' Server Actions. CSRF: Next.js accepts a Server Action only when the request's Origin
// matches its Host (a cross-site form post is refused before it runs), and the session cookie is
// SameSite=Lax, so no CSRF token is needed here (the JSON API in app/api checks for itself).
import { redirect } from "next/navigation";
import { text, withSession } from "../lib/session";

export async function logIn(form: FormData): Promise<void> {
  const username = text(form.get("username"), 40);
  if (username !== undefined) {
    await withSession(async (session) => {
      await session.cycleKey(); // a new key at login, so a key planted before it is worthless
      await session.set("username", username);
    });
  }
  redirect("/");
}

export async function addToCart(form: FormData): Promise<void> {
  const item = text(form.get("item"), 60);
  if (item !== undefined) {
    await withSession(async (session) => {
      await session.set("cart", [...((await session.get("cart")) ?? []), item]);
    });
  }
  redirect("/");
}

export async function logOut(): Promise<void> {
  await withSession((session) => session.flush()); // deletes the record and the cookie
  redirect("/");
}
