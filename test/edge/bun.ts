/** Bun entry: serves the edge app on 127.0.0.1, a free port, printed as "listening <port>". */
import app from "./app.js";

declare const Bun: { serve(options: { hostname: string; port: number; fetch: (request: Request) => Promise<Response> }): { port: number } };
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
console.log(`listening ${server.port}`);
