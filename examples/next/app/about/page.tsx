// A page rendered per request that never touches the session: it costs no store call.
import { connection } from "next/server";

export default async function About() {
  await connection(); // rendered on each request, not at build time
  return (
    <main>
      <h1>About</h1>
      <p>A shop built with Next.js, its sessions kept by Tessera. Rendered at {new Date().toISOString()}.</p>
    </main>
  );
}
