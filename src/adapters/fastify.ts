/**
 * The Fastify adapter: `app.register(tesseraSessions, { sessions })` gives every request
 * `request.session`, committed in the `onSend` hook, before the headers go out (also for
 * redirects and streams, and with `fastify.inject`). Commit errors (interrupted session: 400;
 * store outage: 503) go to Fastify's error handler with that status. A hijacked reply
 * (`reply.hijack()`) skips `onSend`, so its session is not committed.
 * @module
 */
import { Readable } from "node:stream";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { varyWithCookie } from "../cookie.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The visitor's session (set by Tessera's `tesseraSessions` plugin). */
    session: Session<RequestSessionData>;
  }
}

/** Options of {@link tesseraSessions}. */
export interface FastifySessionsOptions {
  /**
   * The session machinery from `createSessions`, whatever its data type: `request.session` is
   * typed by `AppSessionData` (as in the Express adapter), and a plugin's options cannot carry
   * a type parameter through `register`.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sessions: Sessions<any>;
}

/**
 * Requests whose session was committed. `onSend` runs again when an error response replaces
 * the reply, and the commit must happen once (Django's process_response runs once).
 */
const committed = new WeakSet<object>();

const plugin: FastifyPluginAsync<FastifySessionsOptions> = async (fastify, { sessions }) => {
  fastify.decorateRequest("session", null as unknown as Session<RequestSessionData>);

  // Callback hooks, not async ones: Fastify runs them without a promise per request.
  fastify.addHook("onRequest", (request, _reply, done) => {
    request.session = sessions.openFromHeader(request.headers.cookie);
    done();
  });

  fastify.addHook("onSend", (request, reply, payload, done) => {
    // No session when the reply was sent before our onRequest ran (an earlier hook, a bad URL).
    if ((request.session as Session<RequestSessionData> | null) === null || committed.has(request)) return done(null, payload);
    committed.add(request);
    const ready = sessions.tryCommitSync(request.session, reply.statusCode);
    if (ready !== undefined) {
      addCommitHeaders(reply, ready);
      return done(null, payload);
    }
    sessions.commit(request.session, reply.statusCode).then(
      (result) => {
        addCommitHeaders(reply, result);
        done(null, payload);
      },
      (error: unknown) => {
        discardPreparedResponse(reply, error);
        // The error response replaces a streamed payload, which would otherwise stay open (a file handle...).
        if (payload instanceof Readable) payload.destroy();
        done(error as Error);
      },
    );
  });
};

function addCommitHeaders(reply: FastifyReply, { setCookie, varyCookie }: CommitResult): void {
  if (varyCookie) reply.header("Vary", varyWithCookie(reply.getHeader("vary")));
  // Fastify appends every Set-Cookie value instead of replacing the earlier ones.
  if (setCookie !== undefined) reply.header("Set-Cookie", setCookie);
}

/**
 * Nothing the handler prepared (a redirect's Location and 302, its headers) may leak into the
 * error response. The reply takes the error's status (400, 503...) now, because Fastify's
 * default error handler keeps any non-200 status already set, such as the redirect's 302.
 */
function discardPreparedResponse(reply: FastifyReply, error: unknown): void {
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  const status = (error as { status?: unknown } | null)?.status;
  reply.code(typeof status === "number" ? status : 500);
}

/**
 * The Fastify plugin. Register it at the root (it is not encapsulated), so every route has
 * `request.session`.
 *
 * @example
 * const app = Fastify();
 * await app.register(tesseraSessions, { sessions });
 * app.get("/", async (request) => {
 *   await request.session.set("visits", ((await request.session.get("visits")) ?? 0) + 1);
 *   return "hello";
 * });
 */
export const tesseraSessions = fastifyPlugin(plugin, { fastify: "5.x", name: "tessera" });
