import type { HandleServerError } from "@sveltejs/kit";
import { sessionHandle } from "tessera-sessions/sveltekit";
import { sessions } from "./shop.js";

// Every request gets `event.locals.session`; the session is saved when the response is resolved.
export const handle = sessionHandle(sessions);

// An unexpected error is logged here and answered with a generic message (no stack to the visitor).
export const handleError: HandleServerError = ({ error, status, message }) => {
  if (status >= 500) console.error(error);
  return { message: status >= 500 ? "Internal Error" : message };
};
