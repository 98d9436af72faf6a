/**
 * Serves a built framework example (SvelteKit, Astro) on http://127.0.0.1:PORT, loopback only:
 * the demos run without HTTPS. A taken port is a one-line message and exit 1, not a stack trace.
 * Plain JavaScript: each example's serve.js runs it with Node, no build step of its own.
 * @param {string} name
 * @param {import("node:http").RequestListener} listener
 * @param {number} defaultPort
 */
import { createServer } from "node:http";

export function serveOnLoopback(name, listener, defaultPort) {
  const port = Number(process.env.PORT ?? defaultPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be a port number (0-65535), not ${JSON.stringify(process.env.PORT)}.`);
    process.exit(2);
  }
  const server = createServer(listener);
  server.once("error", (error) => {
    const why = error.code === "EADDRINUSE" ? `port ${port} is already in use (another demo?); set PORT to a free port, e.g. PORT=${port + 10}` : error.message;
    console.error(`Could not start the ${name} on 127.0.0.1:${port}: ${why}.`);
    process.exit(1);
  });
  server.listen(port, "127.0.0.1", () => console.log(`${name} on http://127.0.0.1:${server.address().port} (Ctrl+C stops it)`));
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      server.close();
      server.closeAllConnections(); // browsers keep idle connections open; do not wait for them
    });
  }
  return server;
}
