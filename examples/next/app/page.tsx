// The shop: a Server Component reading the session (read-only here; the forms' Server Actions change it).
import { getSession } from "../lib/session";
import { addToCart, logIn, logOut } from "./actions";

export default async function Shop() {
  const session = await getSession();
  const username = await session.get("username");
  const cart = (await session.get("cart")) ?? [];
  return (
    <main>
      <h1>Shop</h1>
      {username === undefined ? (
        <form action={logIn}>
          <input name="username" aria-label="Username" placeholder="Username" required maxLength={40} />
          <button>Log in</button>
        </form>
      ) : (
        <form action={logOut}>
          <p>
            Signed in as <strong id="username">{username}</strong>
          </p>
          <button>Log out</button>
        </form>
      )}
      <h2>Cart</h2>
      {cart.length === 0 ? (
        <p id="empty">Your cart is empty.</p>
      ) : (
        <ul id="cart">
          {cart.map((item, index) => (
            <li key={index}>{item}</li>
          ))}
        </ul>
      )}
      <form action={addToCart}>
        <input name="item" aria-label="Item" placeholder="Item" required maxLength={60} />
        <button>Add to cart</button>
      </form>
    </main>
  );
}
