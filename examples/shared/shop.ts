/**
 * What every shop example shares: the page (who is signed in, the cart, the three forms, each
 * carrying the CSRF token), the answer to a forged form, and the development secret.
 * @module
 */

/** What the shops keep in a session. */
export interface ShopSession {
  username?: string;
  cart?: string[];
}

/**
 * The key for CSRF tokens (and signed cookies, were the backend one): SESSION_SECRET, 32+ random
 * bytes in production (e.g. `openssl rand -base64 48`), else a fixed development value.
 */
export function shopSecret(): string {
  return process.env["SESSION_SECRET"] || "tessera-shop-secret-for-local-development-only";
}

/** The body of the 403 a POST without a valid CSRF token gets; nothing was changed. */
export const FORGED_FORM = "Forbidden: this form's security token is missing or out of date (CSRF check failed). Reload the page and try again.";

/** Readable on a phone: the system font at 16 px (no zoom on focus in iOS), fields that never overflow the screen. */
const STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;margin:1rem;max-width:40rem}input,button{font:inherit}input{max-width:100%;box-sizing:border-box}form{margin:.75rem 0}";

/** The shop's one page, every value HTML-escaped; every form carries `csrfToken`; every field has a label. */
export function shopPage(username: string | undefined, cart: string[], csrfToken: string): string {
  const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const csrf = `<input type="hidden" name="csrf" value="${esc(csrfToken)}">`;
  const who =
    username === undefined
      ? `<form method="post" action="/login">${csrf}<label>Username <input name="username" autocomplete="username" required maxlength="40"></label> <button>Log in</button></form>`
      : `<p>Signed in as ${esc(username)}</p><form method="post" action="/logout">${csrf}<button>Log out</button></form>`;
  const items = cart.map((item) => `<li>${esc(item)}</li>`).join("");
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title><style>${STYLE}</style>${who}<ul>${items}</ul><form method="post" action="/cart">${csrf}<label>Item <input name="item" required maxlength="60"></label> <button>Add to cart</button></form>`;
}
