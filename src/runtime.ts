/**
 * Node's built-in modules where the runtime has them (Node, Bun, Deno, Workers with
 * nodejs_compat), reached through `process.getBuiltinModule` instead of an `import`: a bundle
 * for a runtime that has none (Cloudflare Workers without nodejs_compat, Vercel Edge) then
 * contains no `node:` import, and the caller falls back to Web APIs or explains what is missing.
 * @module
 */

/** `process.getBuiltinModule(id)` when this runtime has it and the module, else `undefined`. */
export function nodeBuiltin<T>(id: string): T | undefined {
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return host?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined; // a runtime that knows the function but not the module
  }
}

/** `file` made absolute against the working directory, where the runtime has one (node:path); else as given. */
export function absolutePath(file: string): string {
  return nodeBuiltin<typeof import("node:path")>("node:path")?.resolve(file) ?? file;
}
