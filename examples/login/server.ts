/**
 * Runs the login demo on http://127.0.0.1:3000 (PORT overrides), storing sessions in
 * sessions.sqlite3 in the working directory. Start it with `npm start`.
 */
import { createApp, DEMO_PASSWORD, DEMO_USERNAME, STAFF_PASSWORD, STAFF_USERNAME } from "./app.js";

const port = Number(process.env["PORT"] ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number (0-65535), not ${JSON.stringify(process.env["PORT"])}.`);
  process.exit(2);
}

const { app, sessions } = createApp();
// Loopback only: the demo runs without HTTPS, so it must not be reachable from the network.
const server = app.listen(port, "127.0.0.1", (error?: Error) => {
  if (error) {
    console.error(`Could not start the demo on port ${port}: ${error.message}`);
    process.exitCode = 1;
    void sessions.close();
    return;
  }
  console.log(`Tessera login demo on http://127.0.0.1:${port} (log in as ${DEMO_USERNAME} / ${DEMO_PASSWORD}; staff ${STAFF_USERNAME} / ${STAFF_PASSWORD} may open /admin/sessions). Ctrl+C stops it.`);
});

async function shutdown(): Promise<void> {
  server.close();
  server.closeAllConnections(); // browsers keep idle connections open; do not wait for them
  await sessions.close();
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
