/**
 * Runs the login demo on http://127.0.0.1:3000 (PORT overrides), storing sessions in
 * sessions.sqlite3 in the working directory. Start it with `npm start`.
 */
import { serveOnLoopback } from "../shared/http.js";
import { createApp, DEMO_PASSWORD, DEMO_USERNAME, STAFF_PASSWORD, STAFF_USERNAME } from "./app.js";

const { app, sessions } = createApp();
console.log(`Log in as ${DEMO_USERNAME} / ${DEMO_PASSWORD}; staff ${STAFF_USERNAME} / ${STAFF_PASSWORD} may open /admin/sessions.`);
serveOnLoopback("Tessera login demo", app, 3000, () => sessions.close());
