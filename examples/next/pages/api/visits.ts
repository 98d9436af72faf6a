// The Pages Router is node:http underneath: its API routes take the node adapter as they are.
// (GET only, so it needs no CSRF check.)
import type { IncomingMessage, ServerResponse } from "node:http";
import { withSession } from "tessera-sessions/node";
import { sessions } from "../../lib/session";

export default withSession(sessions, async (req, res: ServerResponse<IncomingMessage>) => {
  if (req.method !== "GET") {
    res.writeHead(405, { Allow: "GET" }).end();
    return;
  }
  const visits = ((await req.session.get("visits")) ?? 0) + 1;
  await req.session.set("visits", visits);
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ visits }));
});
