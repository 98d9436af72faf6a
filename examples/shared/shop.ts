/**
 * The page every shop example renders: who is signed in, the cart, and the three forms.
 * @module
 */

/** What the shops keep in a session. */
export interface ShopSession {
  username?: string;
  cart?: string[];
}

/** The shop's one page, every value HTML-escaped. */
export function shopPage(username: string | undefined, cart: string[]): string {
  const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const who = username === undefined
    ? `<form method="post" action="/login"><input name="username"> <button>Log in</button></form>`
    : `<p>Signed in as ${esc(username)}</p><form method="post" action="/logout"><button>Log out</button></form>`;
  const items = cart.map((item) => `<li>${esc(item)}</li>`).join("");
  return `<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>${who}<ul>${items}</ul><form method="post" action="/cart"><input name="item"> <button>Add to cart</button></form>`;
}
