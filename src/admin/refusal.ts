/**
 * The admin's "not mine" answer: a 404 the host framework should replace with its own, so a
 * refused visitor sees exactly what any unknown path shows.
 * @module
 */

const refusals = new WeakSet<Response>();

/** A fresh 404 marked as a refusal (a Response can be sent only once, so never share one). */
export function refusal(): Response {
  const response = new Response("Not Found", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
  refusals.add(response);
  return response;
}

/**
 * Whether the admin declined `response` (an unauthorized visitor, or a path outside its
 * `basePath`). Mounts pass such a request on to the app, so its own 404 page answers:
 * `if (isRefusal(response)) return next();`. `toNodeHandler` does this by calling `next()`.
 */
export function isRefusal(response: Response): boolean {
  return refusals.has(response);
}
