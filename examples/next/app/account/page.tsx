// Reached only when signed in: proxy.ts sends everyone else to the login form.
import { getSession } from "../../lib/session";

export default async function Account() {
  const session = await getSession();
  return (
    <main>
      <h1>Account</h1>
      <p>
        Signed in as <strong id="username">{await session.get("username")}</strong>.
      </p>
    </main>
  );
}
