import { renderToString } from "react-dom/server";
import { ServerRouter, type EntryContext } from "react-router";

/** Renders React-rendered documents (the error and 404 pages; the shop's routes send their own HTML). */
export default function handleRequest(request: Request, status: number, headers: Headers, context: EntryContext): Response {
  const html = renderToString(<ServerRouter context={context} url={request.url} />);
  headers.set("Content-Type", "text/html; charset=utf-8");
  return new Response(`<!DOCTYPE html>${html}`, { status, headers });
}
