// Next.js proxy (formerly middleware): /account is for signed-in visitors only. The matcher keeps
// every other page free of the session lookup.
import { NextResponse, type NextRequest } from "next/server";
import { route } from "./lib/session";

export const proxy = route(async (request: NextRequest, session) =>
  (await session.get("username")) === undefined ? NextResponse.redirect(new URL("/", request.url)) : NextResponse.next(),
);

export const config = { matcher: "/account" };
