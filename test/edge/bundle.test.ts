/**
 * An app on cookie sessions and the Fetch adapter reaches no Node built-in (issue 16): its esbuild
 * bundle for an edge runtime (platform "neutral", no Node modules to resolve) builds, and holds no
 * `node:` import or require. Node's modules are reached only through process.getBuiltinModule.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bundleForEdge } from "./bundle.js";

const entry = (name: string) => fileURLToPath(new URL(name, import.meta.url));

describe("the edge bundle", () => {
  it("a cookie-only fetch app with CSRF forms bundles for an edge runtime with no node: import", async () => {
    const { text, externalImports } = await bundleForEdge(entry("app.ts"));
    expect(text).toContain("withSession");
    expect(text).toContain("tessera.csrf"); // tessera-sessions/csrf is in
    expect(text).toContain("crypto.subtle"); // the Web Crypto path is in
    expect(externalImports).toEqual([]); // nothing left for the runtime to resolve
    expect(text.match(/\b(?:import|require)\s*\(\s*["']node:|\bfrom\s*["']node:/g)).toBe(null);
    // Node's modules appear only as names handed to process.getBuiltinModule.
    for (const use of text.match(/["']node:[a-z_/]+["']/g) ?? []) expect(text).toContain(`nodeBuiltin(${use})`);
  });

  it("the check has teeth: an app importing a Node built-in fails to bundle", async () => {
    await expect(bundleForEdge(entry("node-app.fixture.ts"))).rejects.toThrow(/node:zlib/);
  });
});
