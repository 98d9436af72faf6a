/** Deno entry: serves the edge app on 127.0.0.1, a free port, printed as "listening <port>". */
import app from "./app.js";

declare const Deno: {
  serve(options: { hostname: string; port: number; onListen(address: { port: number }): void }, handler: (request: Request) => Promise<Response>): unknown;
};
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, app.fetch);
