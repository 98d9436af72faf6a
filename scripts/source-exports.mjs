/**
 * The package's export list, read from package.json (the one authoritative list) and mapped to the
 * TypeScript sources: "tessera-sessions/express" -> "src/adapters/express.ts". vitest.config.ts and
 * test/hardening/ts-hooks.mjs resolve imports with it; test/exports.test.ts checks tsconfig.json's
 * `paths` against it, so a new subpath is added to package.json `exports` and tsconfig.json only.
 */
import { readFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

/** @returns {Map<string, string>} import specifier -> source path relative to the repository root */
export function sourceExports() {
  const map = new Map();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === "string") continue; // "./package.json"
    const built = /^\.\/dist\/(.+)\.js$/.exec(target.default);
    if (!built) throw new Error(`package.json exports["${subpath}"].default is not ./dist/<file>.js`);
    map.set(manifest.name + subpath.slice(1), `src/${built[1]}.ts`);
  }
  return map;
}
