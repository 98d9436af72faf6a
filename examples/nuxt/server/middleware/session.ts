import { sessionHandler } from "tessera-sessions/nuxt";
import { sessions } from "../shop";

// Every route gets `event.context.session`; the session is saved as the response starts.
export default defineEventHandler(sessionHandler(sessions));
