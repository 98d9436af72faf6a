/**
 * Node module hooks that let a plain `node` child process run the TypeScript sources the way
 * the tests import them: "tessera-sessions/..." maps to src/, a ".js" import next to a ".ts" file loads
 * the ".ts", and TypeScript is transpiled on the fly by esbuild (no type check; tsc does that).
 * esbuild, not TypeScript's transpileModule: loading the compiler alone cost each child about 1 s.
 * Register with: node --import "data:text/javascript,import{register}from'node:module';register('<this file's URL>')"
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import { sourceExports } from "../../scripts/source-exports.mjs";

const ROOT = new URL("../../", import.meta.url);
/** The package's subpath exports, mapped to sources from package.json as vitest.config.ts does. */
const ALIASES = new Map([...sourceExports()].map(([specifier, source]) => [specifier, new URL(source, ROOT).href]));

function aliasOf(specifier) {
  return ALIASES.get(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  const alias = aliasOf(specifier);
  if (alias) return { url: alias, shortCircuit: true };
  if (specifier.endsWith(".js") && context.parentURL?.endsWith(".ts") && (specifier.startsWith(".") || specifier.startsWith("/"))) {
    const candidate = new URL(specifier.replace(/\.js$/, ".ts"), context.parentURL);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith(".ts")) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const output = await transform(await readFile(path, "utf8"), {
    loader: "ts",
    format: "esm",
    target: "es2022",
    sourcefile: path,
    // As tsconfig.json compiles: imports kept as written, class fields with define semantics.
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
  });
  return { format: "module", source: output.code, shortCircuit: true };
}
