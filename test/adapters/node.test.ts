/**
 * `tessera/node` (withSession) against the adapter conformance suite.
 */
import { createServer, type ServerResponse } from "node:http";
import { withSession } from "tessera/node";
import { listenOn, runAdapterSuite, type RouteResult } from "./adapter.suite.js";

/** Sends a suite route's result with plain node:http calls. */
async function send(res: ServerResponse, result: RouteResult): Promise<void> {
  switch (result.kind) {
    case "text":
      res.writeHead(result.status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(result.body);
      return;
    case "redirect":
      res.writeHead(302, { Location: result.location });
      res.end();
      return;
    case "stream":
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      for await (const chunk of result.chunks) res.write(chunk);
      res.end();
  }
}

runAdapterSuite({
  name: "node:http",
  start: (sessions, routes) =>
    listenOn(
      createServer(
        withSession(sessions, async (req, res) => {
          const route = routes[new URL(req.url ?? "/", "http://localhost").pathname];
          if (route === undefined) {
            res.writeHead(404).end();
            return;
          }
          await send(res, await route(req.session));
        }),
      ),
    ),
});
