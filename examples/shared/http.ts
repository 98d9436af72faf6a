/**
 * What every example server shares: listening on loopback with a clear message when it cannot,
 * and reading a small HTML form safely.
 * @module
 */
import { createServer, type RequestListener, type Server } from "node:http";

/** The largest form body the examples accept: their forms hold a name or an item. */
export const MAX_FORM_BYTES = 16 * 1024;

/**
 * Serves `listener` on http://127.0.0.1:PORT (`defaultPort` unless PORT is set). Loopback only:
 * the examples run without HTTPS, so they must not be reachable from the network. A taken port or
 * a bad PORT is a one-line message and a non-zero exit, not a stack trace.
 */
export function serveOnLoopback(name: string, listener: RequestListener, defaultPort: number, onClose?: () => Promise<void>): Server {
  const port = Number(process.env["PORT"] ?? defaultPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be a port number (0-65535), not ${JSON.stringify(process.env["PORT"])}.`);
    process.exit(2);
  }
  const server = createServer(listener);
  server.once("error", (error: NodeJS.ErrnoException) => {
    const why = error.code === "EADDRINUSE" ? `port ${port} is already in use (another demo?); set PORT to a free port, e.g. PORT=${port + 10}` : error.message;
    console.error(`Could not start the ${name} on 127.0.0.1:${port}: ${why}.`);
    process.exitCode = 1;
    void onClose?.();
  });
  server.listen(port, "127.0.0.1", () => {
    const { port: actual } = server.address() as { port: number };
    console.log(`${name} on http://127.0.0.1:${actual} (Ctrl+C stops it)`);
  });
  const shutdown = async () => {
    server.close();
    server.closeAllConnections(); // browsers keep idle connections open; do not wait for them
    await onClose?.();
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
  return server;
}

/** Why a form body was refused: the status and the message to send. */
export interface FormRefusal {
  readonly status: 413 | 415;
  readonly message: string;
}

/**
 * The fields of an `application/x-www-form-urlencoded` body, or why it is refused: 415 for
 * another content type (a JSON or multipart body is the client's mistake, not a 500), 413 past
 * {@link MAX_FORM_BYTES}. `body` is a Fetch `request.body` or a Node request.
 */
export async function readForm(contentType: string | null | undefined, body: AsyncIterable<Uint8Array> | null): Promise<URLSearchParams | FormRefusal> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType ?? "")) {
    return { status: 415, message: "Send the form as application/x-www-form-urlencoded." };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_FORM_BYTES) return { status: 413, message: "The form is too large." };
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
