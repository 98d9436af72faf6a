/**
 * The README's Express example, run as written: the code block is taken from README.md, its
 * `app.listen(3000)` swapped for an export, and the app driven over a real socket.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Express } from "express";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

it("the README's Express example serves Guest, keeps a cart, and sets the session cookie", async () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## Use it in an Express app"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toContain("app.listen(3000);");
  mkdirSync(`${root}.tmp`, { recursive: true });
  const file = `${root}.tmp/readme-example.ts`;
  writeFileSync(file, (code as string).replace("app.listen(3000);", "export { app, sessions };"));
  process.env["DATABASE_URL"] = "sqlite::memory:";
  const { app, sessions } = (await import(/* @vite-ignore */ file)) as { app: Express; sessions: { close(): Promise<void> } };
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const guest = await fetch(url);
    expect(await guest.text()).toBe("Guest");
    expect(guest.headers.get("set-cookie")).toBeNull();

    const first = await fetch(`${url}/cart/7`, { method: "POST" });
    expect(await first.text()).toBe("1 items");
    const cookie = first.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^sessionid=[a-z0-9]{32}; Max-Age=1209600; Path=\/; Expires=.+; HttpOnly; Secure; SameSite=Lax$/);
    const second = await fetch(`${url}/cart/8`, { method: "POST", headers: { cookie: cookie.split(";")[0] as string } });
    expect(await second.text()).toBe("2 items");
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await sessions.close();
  }
});
