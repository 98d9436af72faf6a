/**
 * What every backend that talks to a server shares: loading its optional driver package, and
 * showing a connection URL in a message without its credentials.
 * @module
 */
import { MissingDependencyError } from "../errors.js";

/**
 * Loads an optional peer dependency, or explains which package to install. `packageName`
 * differs from `name` for a subpath such as "mysql2/promise".
 */
export async function importPeer<T>(name: string, feature: string, packageName = name): Promise<T> {
  try {
    // Left to the runtime, not the app's bundler (Next.js/Turbopack, webpack, Vite), which
    // cannot follow an import of a variable and would fail it: the driver is the app's own dependency.
    return (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ /* @vite-ignore */ name)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") throw new MissingDependencyError(packageName, feature, error);
    throw error;
  }
}

/** `url` as JSON for an error message, with any `user:password@` replaced by `***@`. */
export function shownUrl(url: string): string {
  return JSON.stringify(url.replace(/\/\/[^@/]*@/, "//***@"));
}
