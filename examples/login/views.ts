/**
 * The demo's pages: plain server-rendered HTML. Every value from a visitor or the session goes
 * through `escapeHtml`, so a username such as `<script>` is shown, never run.
 */
import { createHash } from "node:crypto";

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5f6b7a; --line: #e3e7ee; --accent: #3456d1; --bg: #f5f7fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: .9rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; color: var(--ink); text-decoration: none; }
nav { display: flex; align-items: center; gap: 1rem; }
nav a { color: var(--muted); text-decoration: none; }
nav a:hover { color: var(--accent); }
main { max-width: 40rem; margin: 2.5rem auto; padding: 2rem; background: #fff; border: 1px solid var(--line); border-radius: 12px; }
h1 { margin-top: 0; font-size: 1.6rem; }
p.lead { color: var(--muted); }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
input[type=text], input[type=password], select { width: 100%; padding: .6rem .7rem; font: inherit; border: 1px solid #c9d0db; border-radius: 8px; }
button { padding: .55rem 1.1rem; font: inherit; color: #fff; background: var(--accent); border: 0; border-radius: 8px; cursor: pointer; }
button.link { padding: 0; color: var(--muted); background: none; }
button.link:hover { color: var(--accent); }
button.small { padding: .25rem .7rem; font-size: .9rem; }
form.inline { display: inline; margin: 0; }
.actions { margin-top: 1.25rem; }
.note { padding: .75rem 1rem; background: #eef2ff; border-radius: 8px; }
.error { padding: .75rem 1rem; color: #8a1c1c; background: #fdecec; border-radius: 8px; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .55rem .4rem; text-align: left; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1.25rem; }
dt { color: var(--muted); }
dd { margin: 0; }
.scroll { overflow-x: auto; }
@media (max-width: 32rem) {
  header { flex-wrap: wrap; padding: .75rem 1rem; }
  nav { flex-wrap: wrap; gap: .4rem .9rem; }
  main { margin: 1rem .5rem; padding: 1.1rem; }
}
footer { text-align: center; color: var(--muted); font-size: .85rem; margin-bottom: 2rem; }
`;

/**
 * The page's security policy: nothing may load or run except this one stylesheet (allowed by
 * its hash) and forms posting back to this site. Injected markup could do nothing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** What every page needs to draw its header. */
export interface PageContext {
  readonly username: string | undefined;
  /** Staff get a link to the session admin. */
  readonly isStaff: boolean;
  readonly csrfToken: string;
  readonly cartCount: number;
}

/** A hidden field carrying the session's CSRF token; every POST form includes it. */
export function csrfField(token: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(token)}">`;
}

/**
 * The page frame: header with navigation, the body, a footer. Error pages pass no context and
 * get a bare header, since the session may be what failed.
 */
export function layout(title: string, context: PageContext | undefined, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Tessera demo</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <a class="brand" href="/">Tessera demo</a>
  ${context === undefined ? "" : navigation(context)}
</header>
<main>
${body}
</main>
<footer>Sessions by Tessera, stored server-side; the cookie holds only a random key.</footer>
</body>
</html>
`;
}

function navigation(context: PageContext): string {
  const account =
    context.username === undefined
      ? `<a href="/login">Log in</a>`
      : `<a href="/dashboard">Dashboard</a>${context.isStaff ? `\n    <a href="/admin/sessions">Session admin</a>` : ""}
    <form class="inline" method="post" action="/logout">${csrfField(context.csrfToken)}<button class="link" type="submit">Log out</button></form>`;
  return `<nav>
    <a href="/cart">Cart (${context.cartCount})</a>
    <a href="/session">Session</a>
    ${account}
  </nav>`;
}

/** A user agent as a person names it ("Chrome on Windows"); an unknown one, shortened. */
export function describeDevice(userAgent: string): string {
  // Order matters: Edge and Opera say "Chrome", Chrome says "Safari", Android says "Linux".
  const browser = [
    ["Edg/", "Edge"],
    ["OPR/", "Opera"],
    ["Firefox/", "Firefox"],
    ["Chrome/", "Chrome"],
    ["Safari/", "Safari"],
  ].find(([token]) => userAgent.includes(token as string))?.[1];
  const system = [
    ["iPhone", "iOS"],
    ["iPad", "iPadOS"],
    ["Android", "Android"],
    ["Windows", "Windows"],
    ["Mac OS X", "macOS"],
    ["CrOS", "ChromeOS"],
    ["Linux", "Linux"],
  ].find(([token]) => userAgent.includes(token as string))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser ?? system) return (browser ?? system) as string;
  return userAgent.length > 40 ? `${userAgent.slice(0, 39)}…` : userAgent;
}

/** A moment in a short, unambiguous form: "1 Jan 2030, 12:00 UTC". */
export function formatWhen(date: Date): string {
  const month = date.toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
  const time = date.toISOString().slice(11, 16);
  return `${date.getUTCDate()} ${month} ${date.getUTCFullYear()}, ${time} UTC`;
}
