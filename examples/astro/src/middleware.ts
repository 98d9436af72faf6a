import { sessionMiddleware } from "tessera-sessions/astro";
import { sessions } from "./shop.js";

// Every page and endpoint gets `Astro.locals.session`; the session is saved once it has rendered.
export const onRequest = sessionMiddleware(sessions);
