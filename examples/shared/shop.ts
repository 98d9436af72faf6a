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

/** The shop's one page, every value HTML-escaped; every form carries `csrfToken`. */
export function shopPage(username: string | undefined, cart: string[], csrfToken: string): string {
  const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const csrf = `<input type="hidden" name="csrf" value="${esc(csrfToken)}">`;
  const who =
    username === undefined
      ? `<form method="post" action="/login">${csrf}<input name="username"> <button>Log in</button></form>`
      : `<p>Signed in as ${esc(username)}</p><form method="post" action="/logout">${csrf}<button>Log out</button></form>`;
  const items = cart.map((item) => `<li>${esc(item)}</li>`).join("");
  return `<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>${who}<ul>${items}</ul><form method="post" action="/cart">${csrf}<input name="item"> <button>Add to cart</button></form>`;
}
