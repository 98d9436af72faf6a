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
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { applyCommit, commitNowOrLater, discardPrepared, failureStatus, firstCommit, type ResponseHeaders } from "./shared.js";

// Aliased: inside this block a bare `Session` would name the `Session` interface that
// @fastify/session's types add to "fastify", for apps that have both installed while migrating.
type TesseraSession = Session<RequestSessionData>;

declare module "fastify" {
  interface FastifyRequest {
    /** The visitor's session (set by Tessera's `tesseraSessions` plugin). */
    session: TesseraSession;
  }
}

/** Options of {@link tesseraSessions}. */
export interface FastifySessionsOptions {
  /**
   * The session machinery from `createSessions`, whatever its data type: `request.session` is
   * typed by `AppSessionData` (as in the Express adapter), and a plugin's options cannot carry
   * a type parameter through `register`.
   */
  sessions: Sessions<any>;
}

const plugin: FastifyPluginAsync<FastifySessionsOptions> = async (fastify, { sessions }) => {
  fastify.decorateRequest("session", null as unknown as Session<RequestSessionData>);

  // Callback hooks, not async ones: Fastify runs them without a promise per request.
  fastify.addHook("onRequest", (request, _reply, done) => {
    request.session = sessions.openFromHeader(request.headers.cookie);
    done();
  });

  fastify.addHook("onSend", (request, reply, payload, done) => {
    // No session when the reply was sent before our onRequest ran (an earlier hook, a bad URL).
    // `onSend` runs again when an error response replaces the reply: the session is committed once.
    const session = request.session as Session<RequestSessionData> | null;
    if (session === null || !firstCommit(session)) return done(null, payload);
    const committed = commitNowOrLater(sessions, session, reply.statusCode);
    if (!(committed instanceof Promise)) {
      applyCommit(replyHeaders(reply), committed);
      return done(null, payload);
    }
    committed.then(
      (result) => {
        applyCommit(replyHeaders(reply), result);
        done(null, payload);
      },
      (error: unknown) => {
        discardPrepared(replyHeaders(reply));
        // The error's status (400, 503...) now: Fastify's default error handler keeps any
        // non-200 status already set, such as a redirect's 302.
        reply.code(failureStatus(error));
        // The error response replaces a streamed payload, which would otherwise stay open (a file handle...).
        if (payload instanceof Readable) payload.destroy();
        done(error as Error);
      },
    );
  });
};

function replyHeaders(reply: FastifyReply): ResponseHeaders {
  return {
    get: (name) => reply.getHeader(name),
    set: (name, value) => void reply.header(name, value),
    // Fastify appends every Set-Cookie value instead of replacing the earlier ones.
    append: (name, value) => void reply.header(name, value),
    names: () => Object.keys(reply.getHeaders()),
    remove: (name) => void reply.removeHeader(name),
  };
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
