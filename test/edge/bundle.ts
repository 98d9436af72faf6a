/**
 * Bundles an edge entry with esbuild the way a Workers or Vercel Edge build does: platform
 * "neutral", the worker/browser export conditions, no Node built-ins available (an import of one
 * fails the build). `tessera-sessions/*` resolves to the sources through the package's export list.
 */
import { build, type Plugin } from "esbuild";
import { fileURLToPath } from "node:url";
import { sourceExports } from "../../scripts/source-exports.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));

const tesseraSources: Plugin = {
  name: "tessera-sources",
  setup(builder) {
    const exports = sourceExports();
    builder.onResolve({ filter: /^tessera-sessions(\/.*)?$/ }, (args) => {
      const source = exports.get(args.path);
      return source === undefined ? { errors: [{ text: `${args.path} is not in package.json exports` }] } : { path: `${root}${source}` };
    });
  },
};

/** A bundle for a server runtime (Node, Bun): ESM, Node built-ins left to the runtime, every package bundled in. */
export async function bundleForServer(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    outfile: "server-bundle.mjs",
    logLevel: "silent",
    plugins: [tesseraSources],
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild wrote no output");
  return file.text;
}

/** The bundle (ESM, one file) and the imports it leaves to the runtime; rejects if anything could not be resolved, node: built-ins included. */
export async function bundleForEdge(entry: string): Promise<{ text: string; externalImports: string[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    target: "es2022",
    write: false,
    outfile: "edge-bundle.js",
    logLevel: "silent",
    plugins: [tesseraSources],
    metafile: true,
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild wrote no output");
  const externalImports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((imported) => imported.path));
  return { text: file.text, externalImports };
}
