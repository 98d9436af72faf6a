/**
 * The admin page's HTML: small typed functions returning escaped strings. Every value that comes
 * from a session, a user id or the URL passes through `escapeHtml` (or `attr`) before it is
 * written; the literal markup around them is the only unescaped text.
 * @module
 */
import { Buffer } from "node:buffer";

/** Markup already escaped (or written by this module), so it is not escaped twice. */
export interface Html {
  readonly html: string;
}

/** Escapes text for an element's content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Builds markup: interpolated strings are escaped, `Html` values and arrays of them are kept. */
export function html(strings: TemplateStringsArray, ...values: readonly (string | number | Html | readonly Html[] | undefined | false)[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return { html: out };
}

function render(value: string | number | Html | readonly Html[] | undefined | false): string {
  if (value === undefined || value === false) return "";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return escapeHtml(value);
  if ("html" in value) return value.html;
  return value.map((v) => v.html).join("");
}

/** A UTC timestamp as `<time>`: readable without JavaScript, turned into the viewer's zone by the page script. */
export function time(ms: number): Html {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")} UTC</time>`;
}

/** A byte count for people: 812 B, 4.1 KB, 2.3 MB. */
export function size(text: string): string {
  const bytes = Buffer.byteLength(text);
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The first characters of an id: enough to tell sessions apart on screen. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/** The whole page around `body`. `nonce` allows exactly this page's style and script (see the CSP). */
export function layout(options: {
  title: string;
  nonce: string;
  body: Html;
  home: string;
  backLink: { readonly href: string; readonly label: string } | undefined;
}): string {
  const { title, nonce, body, home, backLink } = options;
  const back = backLink === undefined ? html`` : html`<a class="back" href="${backLink.href}">${backLink.label}</a>`;
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>${title} · Tessera</title><style nonce="${nonce}">${{ html: STYLE }}</style></head>
<body><header class="top"><a class="brand" href="${home}"><span class="logo" aria-hidden="true"></span>Tessera sessions</a>${back}</header>
<main>${body}</main>
<script nonce="${nonce}">${{ html: SCRIPT }}</script></body></html>`.html
  }`;
}

/**
 * The page's only script. Without it the page works the same: times stay in UTC, and every
 * action answers with a confirmation page instead of a dialog.
 */
const SCRIPT = `
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.dateTime);
  if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }); }
}
for (const f of document.querySelectorAll("form[data-confirm]")) {
  f.addEventListener("submit", (e) => {
    if (!confirm(f.dataset.confirm)) { e.preventDefault(); return; }
    f.elements.confirmed.value = "1";
  });
}
const all = document.querySelector("input[data-select-all]");
if (all) all.addEventListener("change", () => { for (const c of document.querySelectorAll("input[name=id]")) c.checked = all.checked; });
`;

const STYLE = `
:root{--bg:#f7f7f8;--card:#fff;--text:#1c1d21;--muted:#6b6f7a;--line:#e4e5e9;--accent:#3b5bdb;--danger:#c92a2a;--ok:#2b8a3e;--radius:10px;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.top{background:var(--card);border-bottom:1px solid var(--line);padding:12px 28px;display:flex;justify-content:space-between;align-items:center;gap:12px}
.brand{font-weight:650;color:var(--text);display:inline-flex;align-items:center;gap:10px}
.logo{width:18px;height:18px;border-radius:4px;background:linear-gradient(135deg,#3b5bdb 0 50%,#15aabf 50% 100%)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px;font-weight:650}
.sub{color:var(--muted);margin:0 0 20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);padding:16px 18px;margin-bottom:16px}
.toolbar{display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-end}
.toolbar form{display:flex;gap:8px;align-items:flex-end;flex-wrap:wrap;margin:0}
label{display:flex;flex-direction:column;gap:4px;font-size:12px;color:var(--muted);font-weight:550}
input[type=text],input[type=password],select{font:inherit;height:34px;padding:0 10px;border:1px solid var(--line);border-radius:7px;background:#fff;min-width:190px;color:var(--text)}
input:focus,select:focus{outline:2px solid #bac8ff;border-color:var(--accent)}
button,.button{font:inherit;font-weight:550;height:34px;line-height:20px;padding:6px 14px;border-radius:7px;border:1px solid var(--line);background:#fff;color:var(--text);cursor:pointer;display:inline-block}
button:hover,.button:hover{background:#f1f3f5;text-decoration:none}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}button.primary:hover{background:#364fc7}
button.danger{color:var(--danger);border-color:#ffc9c9}button.danger:hover{background:#fff5f5}
button.danger.solid{background:var(--danger);color:#fff;border-color:var(--danger)}
table{width:100%;border-collapse:collapse;background:var(--card)}
.table{border:1px solid var(--line);border-radius:var(--radius);overflow-x:auto;margin-bottom:12px;background:var(--card);max-width:100%}
th,td{padding:9px 12px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;background:#fafafb}
tbody tr:last-child td{border-bottom:0}tbody tr:hover{background:#f8f9ff}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600}
.badge.active{background:#ebfbee;color:var(--ok)}.badge.expired{background:#f1f3f5;color:var(--muted)}
.muted{color:var(--muted)}
.notice{background:#edf2ff;border:1px solid #dbe4ff;color:#364fc7;border-radius:var(--radius);padding:10px 14px;margin-bottom:16px}
.notice.warn{background:#fff9db;border-color:#ffec99;color:#8a6d00}
.bar{display:flex;justify-content:space-between;align-items:center;gap:12px;flex-wrap:wrap}
.pager{display:flex;gap:8px}
dl{display:grid;grid-template-columns:160px 1fr;gap:8px 16px;margin:0}dt{color:var(--muted)}dd{margin:0;word-break:break-all}
pre{background:#0f1117;color:#e9ecef;padding:16px;border-radius:var(--radius);overflow:auto;margin:0;white-space:pre-wrap;word-break:break-word}
.crumbs{margin-bottom:8px;color:var(--muted)}
.actions{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:16px}
.h2{font-size:15px;margin:0 0 6px;font-weight:650}.actions form{margin:0}
.empty{padding:32px;text-align:center;color:var(--muted)}
@media (max-width:1180px){th,td{padding:8px}td time{white-space:normal}}
@media (max-width:600px){main{padding:16px 12px 32px}.top{padding:12px}}
`;
