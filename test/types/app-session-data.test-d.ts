/**
 * Type tests (checked by `npm run typecheck`, never run): declaring `AppSessionData` once types
 * `req.session` in every adapter; `createSessions<Data>()` types what it opens without any
 * declaration. Each `@ts-expect-error` fails the typecheck if the line it marks compiles.
 */
import type { IncomingMessage } from "node:http";
import type { Request } from "express";
import type { FastifyRequest } from "fastify";
import { expectTypeOf } from "vitest";
import { createSessions, type AppSessionData, type RequestSessionData, type Session } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import "tessera-sessions/express";
import "tessera-sessions/fastify";
import type { RequestWithSession } from "tessera-sessions/node";

declare module "tessera-sessions" {
  interface AppSessionData {
    username?: string;
    cart: number[];
  }
}

// Once declared, the adapters' request data type is the app's.
expectTypeOf<RequestSessionData>().toEqualTypeOf<AppSessionData>();
expectTypeOf<keyof RequestSessionData>().toEqualTypeOf<"username" | "cart">();

declare const expressRequest: Request;
declare const fastifyRequest: FastifyRequest;
declare const nodeRequest: RequestWithSession;
expectTypeOf(expressRequest.session).toEqualTypeOf<Session<AppSessionData>>();
expectTypeOf(fastifyRequest.session).toEqualTypeOf<Session<AppSessionData>>();
expectTypeOf(nodeRequest.session).toEqualTypeOf<Session<AppSessionData>>();
expectTypeOf<RequestWithSession>().toMatchTypeOf<IncomingMessage>();

const session = expressRequest.session;
expectTypeOf(session.get("username")).resolves.toEqualTypeOf<string | undefined>();
expectTypeOf(session.get("cart", [] as number[])).resolves.toEqualTypeOf<number[]>();
expectTypeOf(session.pop("cart")).resolves.toEqualTypeOf<number[] | undefined>();
expectTypeOf(session.keys()).resolves.toEqualTypeOf<("username" | "cart")[]>();
// @ts-expect-error: not a declared key
void session.get("userName");
// @ts-expect-error: a cart holds numbers
void session.set("cart", ["tea"]);
// @ts-expect-error: username is a string
void session.set("username", 42);
void session.set("cart", [1, 2]);
void session.update({ username: "jane" });
// @ts-expect-error: update takes declared keys only
void session.update({ admin: true });

// createSessions<Data>() types its own sessions, whatever AppSessionData says.
interface Counter {
  visits: number;
}
const counters = createSessions<Counter>({ backend: memoryBackend() });
const counter = counters.open();
expectTypeOf(counter).toEqualTypeOf<Session<Counter>>();
expectTypeOf(counter.get("visits")).resolves.toEqualTypeOf<number | undefined>();
expectTypeOf(counters.of(expressRequest)).toEqualTypeOf<Session<Counter>>();
// @ts-expect-error: "cart" is AppSessionData's, not Counter's
void counter.get("cart");
// @ts-expect-error: visits is a number
void counter.set("visits", "1");

// Without a type argument: any JSON value under any key.
const untyped = createSessions({ backend: memoryBackend() }).open();
expectTypeOf(untyped.get("anything")).resolves.toEqualTypeOf<unknown>();
