/** What the JSON API's route handlers share. */

/** Bodies above this are refused (413): the API only takes a name or an item. */
const MAX_BODY_BYTES = 4096;

/**
 * The JSON object a same-origin request posted, or the Response refusing it. CSRF: a cross-site
 * page can post a form, but not `application/json` without a CORS preflight (which this API
 * never grants); a request whose Origin is another site is refused outright.
 */
export async function jsonBody(request: Request): Promise<Record<string, unknown> | Response> {
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== new URL(request.url).origin) return Response.json({ error: "cross-origin request refused" }, { status: 403 });
  if (request.headers.get("content-type")?.split(";")[0]?.trim() !== "application/json") {
    return Response.json({ error: "send application/json" }, { status: 415 });
  }
  const body = await request.text();
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return Response.json({ error: "body too large" }, { status: 413 });
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  return Response.json({ error: "send a JSON object" }, { status: 400 });
}
