/** Import specifier ("tessera-sessions/express") -> source path relative to the repository root. */
export function sourceExports(): Map<string, string>;
