/**
 * Mounting a Fetch-style handler (the admin) on node:http, Express, Koa or Fastify's raw request.
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { isRefusal } from "./refusal.js";

/**
 * A node:http listener that also fits Express's `(req, res, next)`. The promise settles once the
 * response is written or `next` was called (Koa and Fastify await it).
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>;

/** The most request body read into memory; the admin's forms are a few kilobytes. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Turns `handler` into a node:http listener: the IncomingMessage becomes a `Request` (with the
 * full original URL, also under an Express mount path), and the `Response` is written back,
 * every `Set-Cookie` kept. The handler receives `{ node: req }` as its context, so an
 * `authorize` hook can read what the app's middleware put on the request (e.g. `req.session`).
 * A request the handler refuses (see `isRefusal`) goes to `next()` when there is one, so the
 * app's own 404 answers it; without `next` the plain 404 is written. Errors go to `next(error)`
 * when there is one, otherwise a 500.
 *
 * @example
 * app.use("/admin/sessions", toNodeHandler(admin));          // Express
 * http.createServer(toNodeHandler(admin)).listen(8080);      // node:http
 */
export function toNodeHandler(handler: (request: Request, context: { node: IncomingMessage }) => Promise<Response>): NodeHandler {
  return (req, res, next) =>
    (async () => {
      const response = await handler(await toRequest(req), { node: req });
      if (next !== undefined && isRefusal(response)) return next();
      await writeResponse(response, res);
    })().catch((error: unknown) => {
      if (next) return next(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" }).end("Internal Server Error");
    });
}

async function toRequest(req: IncomingMessage): Promise<Request> {
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const forwarded = String(req.headers["x-forwarded-proto"] ?? "")
    .split(",")[0]
    ?.trim();
  const protocol = (req.socket as TLSSocket).encrypted || forwarded === "https" ? "https" : "http";
  const url = new URL(original, `${protocol}://${req.headers.host ?? "localhost"}`);
  const headers = new Headers();
  for (const [name, values] of Object.entries(req.headersDistinct)) for (const value of values ?? []) headers.append(name, value);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: await readBody(req, headers) });
}

/** The body as bytes; a body an Express parser already consumed is encoded back from `req.body`. */
async function readBody(req: IncomingMessage, headers: Headers): Promise<Uint8Array> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (req.readableEnded && typeof parsed === "object" && parsed !== null) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(parsed)) for (const v of Array.isArray(value) ? value : [value]) form.append(key, String(v));
    headers.set("content-type", "application/x-www-form-urlencoded");
    headers.delete("content-length");
    return Buffer.from(form.toString());
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw Object.assign(new Error("Request body too large"), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("Set-Cookie", cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}
